"""Intercom's error answers: an exception the sandbox raises, and the `error.list` body."""

from __future__ import annotations

from typing import Any

import msgspec


class ErrorItem(msgspec.Struct, frozen=True, omit_defaults=True):
    code: str
    message: str
    field: str | None = None


class ApiError(Exception):
    """An answer Intercom gives instead of a success: a status and one or more errors."""

    def __init__(self, status: int, *errors: ErrorItem) -> None:
        super().__init__(status, errors)
        self.status = status
        self.errors = errors

    @classmethod
    def of(cls, status: int, code: str, message: str, field: str | None = None) -> ApiError:
        return cls(status, ErrorItem(code, message, field))


def error_body(errors: tuple[ErrorItem, ...], request_id: str | None) -> dict[str, Any]:
    return {
        "type": "error.list",
        "request_id": request_id,
        "errors": [msgspec.to_builtins(error) for error in errors],
    }


def user_not_found() -> ApiError:
    return ApiError.of(404, "not_found", "User Not Found")


def company_not_found() -> ApiError:
    return ApiError.of(404, "company_not_found", "Company Not Found")


def invalid(message: str, field: str | None = None) -> ApiError:
    return ApiError.of(400, "parameter_invalid", message, field)
