"""The domain errors every app raises, and the base they share; `cdp.api.errors` maps
them to HTTP in one place, forms and pages show them beside the field, commands print
them. Plain Python: engines and services alike may import it.

Each app keeps its own in `<app>/errors.py` (attribution: unknown goal or model, no run
to report on; consent: unknown purpose or identifier; identity: a refused merge), all
built on `OmnitrailError`.
"""


class OmnitrailError(Exception):
    """A refusal a caller can act on.

    `code` is stable for programs (the class's own, or the one given); `field` names the
    input at fault (`goal`, `[1].cost`, `definition.all[0].op`), None when no one input
    is; `message` says what is wrong in words that stand beside that field, as a form
    shows it. `str(error)`, the API's `"message"` and what commands print name the field
    first: "cost: must not be negative". Nothing ever splits that text back apart.
    """

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidField(OmnitrailError, ValueError):
    """A value its field does not take: a date that is not one, a status not in the list."""

    code = "invalid_field"
    field: str  # always named

    def __init__(self, message: str, *, field: str, code: str | None = None):
        super().__init__(message, code=code, field=field)


class AuthenticationFailed(OmnitrailError):
    status = 401
    code = "unauthorized"


class PayloadTooLarge(OmnitrailError):
    status = 413
    code = "payload_too_large"


class RateLimited(OmnitrailError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class ImportFileError(OmnitrailError):
    code = "invalid_file"
