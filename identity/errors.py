"""The identity app's domain errors (see cdp.errors)."""

from cdp.errors import OmnitrailError


class MergeRefused(OmnitrailError):
    """A merge (or unmerge) the guardrails or an earlier staff decision forbid."""

    status = 409
    code = "merge_refused"
