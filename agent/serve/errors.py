"""Errors in the OpenAI shape: {"error": {"message", "type", "param", "code"}} with an HTTP status."""
from __future__ import annotations

from typing import Any

from agent.errors import AgentError

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          413: "invalid_request_error", 503: "server_overloaded", 500: "internal_error"}


class ApiError(AgentError):
    """A request the server answers with an error status and a message (never a traceback)."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict[str, Any]:
        """The JSON body OpenAI clients read."""
        return {"error": {"message": self.message, "type": _TYPES.get(self.status, "invalid_request_error"),
                          "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None) -> ApiError:
    """400 naming the offending field."""
    return ApiError(400, message, param)
