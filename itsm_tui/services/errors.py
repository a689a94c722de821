"""The failures a caller can act on. Each carries the CLI exit code the contract promises."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class; `str(error)` says what was wrong and how to fix it."""

    exit_code = 1


class ValidationFailed(ServiceError):
    exit_code = 2


class InvalidTransition(ValidationFailed):
    """A workflow guard refused the state change; bad input, so the same exit code."""


class NotFound(ServiceError):
    exit_code = 3


class PermissionDenied(ServiceError):
    exit_code = 4


class Conflict(ServiceError):
    exit_code = 5


class Unavailable(ServiceError):
    """The database cannot be reached (server down, connection lost, file gone). Nothing was
    written; the same call can simply be tried again once it is back."""

    exit_code = 1
