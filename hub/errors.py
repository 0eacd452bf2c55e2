"""The hub's refusals of a write, shared by every package: each maps to an HTTP status
(the API's error body, a page's error message)."""


class OperationError(Exception):
    """A write the hub refuses; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


class Invalid(OperationError):
    status = 400


class Forbidden(OperationError):
    status = 403


class Conflict(OperationError):
    status = 409
