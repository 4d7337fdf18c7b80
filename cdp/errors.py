"""Domain exceptions of the cdp app; `cdp.api.errors` maps them to HTTP in one place."""


class OmnitrailError(Exception):
    """A refusal a caller can act on: `code` is stable, `message` names the field or limit."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


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
