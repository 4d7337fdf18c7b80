"""The consent app's domain errors (see cdp.errors)."""

from cdp.errors import InvalidField, OmnitrailError


class UnknownPurpose(OmnitrailError, LookupError):
    """No purpose has this key."""

    code = "unknown_purpose"


class InvalidIdentifier(InvalidField):
    """An identifier not written as kind:value."""

    code = "invalid_identifier"


class UnknownIdentifier(OmnitrailError, LookupError):
    """No profile holds this identifier."""

    code = "unknown_identifier"
