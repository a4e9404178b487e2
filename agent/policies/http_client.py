"""A small client for OpenAI-compatible chat servers (vLLM, SGLang, `agent serve`, …), over httpx.

Connection errors, timeouts, 429 and 5xx are retried with exponential backoff (a server's
Retry-After is honoured, bounded); 401/403 and an unknown model fail at once with a message that
says what to fix, naming the models the server's /v1/models lists. The API key is only ever put in
the Authorization header: never in errors, traces or logs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx

from agent.errors import ModelCallError

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 30.0
MAX_ERROR_CHARS = 300



@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry."""

    attempts: int = 4  # the first try included
    backoff_s: float = 1.0  # waits 1, 2, 4 … seconds between tries
    max_backoff_s: float = 20.0


def base_url(endpoint: str) -> str:
    """The API root (…/v1) of an endpoint given as host, …/v1 or …/v1/chat/completions."""
    url = endpoint.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"--endpoint must start with http:// or https://, got {endpoint!r}")
    for suffix in ("/chat/completions", "/models"):
        if url.endswith(suffix):
            url = url[: -len(suffix)]
    return url if url.endswith("/v1") else url + "/v1"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "…"


def server_message(response: httpx.Response) -> str:
    """The error text of a failed response: OpenAI's {"error": {"message"}}, FastAPI's {"detail"}, or the body."""
    try:
        body = response.json()
    except ValueError:
        return _short(response.text) or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return _short(str(error["message"]))
        for key in ("message", "detail", "error"):
            if body.get(key):
                return _short(str(body[key]))
    return _short(response.text)


class ChatClient:
    """POSTs chat completions to one server, with retries; `sleep` is injectable for tests."""

    def __init__(self, endpoint: str, api_key: str | None = None, timeout_s: float = 300.0,
                 retry: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep):
        self.base = base_url(endpoint)
        self.retry, self.sleep = retry, sleep
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)), headers=headers)

    def close(self) -> None:
        self.http.close()

    def list_models(self) -> list[str]:
        """Model ids the server lists at /v1/models (ModelCallError when it cannot say)."""
        try:
            response = self.http.get(f"{self.base}/models", timeout=30.0)
        except httpx.HTTPError as error:
            raise ModelCallError(f"cannot reach {self.base}/models: {type(error).__name__}: {error}",
                                 retryable=True) from error
        if response.status_code != 200:
            raise self._status_error(response, model=None)
        try:
            return [str(item["id"]) for item in response.json()["data"]]
        except (ValueError, KeyError, TypeError) as error:
            raise ModelCallError(f"{self.base}/models answered a body that is not a model list") from error

    def chat(self, payload: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """(response JSON, retries used) of POST /chat/completions; ModelCallError when it fails for good."""
        last: ModelCallError | None = None
        for attempt in range(self.retry.attempts):
            if attempt:
                self.sleep(self._wait(attempt, last))
            try:
                return self._post_once(payload), attempt
            except ModelCallError as error:
                if not error.retryable:
                    raise
                last = error
        assert last is not None
        raise ModelCallError(f"{last} (gave up after {self.retry.attempts} tries)", last.status)

    def _post_once(self, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base}/chat/completions"
        try:
            response = self.http.post(url, json=payload)
        except httpx.TimeoutException as error:
            raise ModelCallError(f"{url} did not answer in time ({type(error).__name__})", retryable=True) from error
        except httpx.HTTPError as error:
            raise ModelCallError(f"cannot reach {url}: {type(error).__name__}: {error}", retryable=True) from error
        if response.status_code != 200:
            raise self._status_error(response, model=payload.get("model"))
        try:
            body = response.json()
        except ValueError:
            raise ModelCallError(f"{url} answered 200 with a body that is not JSON: {_short(response.text)!r}") from None
        if not isinstance(body, dict):
            raise ModelCallError(f"{url} answered 200 with JSON that is not an object")
        return body

    def _status_error(self, response: httpx.Response, model: str | None) -> ModelCallError:
        status, message = response.status_code, server_message(response)
        where = str(response.request.url)
        if status in (401, 403):
            return ModelCallError(f"{where}: {status} {response.reason_phrase} ({message}); check the key in the "
                                  "variable --api-key-env names", status)
        if model is not None and status in (400, 404) and "model" in message.lower():
            return ModelCallError(f"{where}: {status}: {message}. {self._served_models_hint(model)}", status)
        retry_after = response.headers.get("retry-after")
        error = ModelCallError(f"{where}: {status} {response.reason_phrase}: {message}", status,
                               retryable=status in RETRY_STATUS)
        error.retry_after = _seconds(retry_after)  # type: ignore[attr-defined]
        return error

    def _served_models_hint(self, model: str) -> str:
        try:
            served = self.list_models()
        except ModelCallError:
            return f"Is model {model!r} served there?"
        return f"The server does not serve {model!r}; it lists: {', '.join(served) or '(nothing)'}"

    def _wait(self, attempt: int, last: ModelCallError | None) -> float:
        wait = min(self.retry.backoff_s * 2 ** (attempt - 1), self.retry.max_backoff_s)
        after = getattr(last, "retry_after", None)
        return min(after, MAX_RETRY_AFTER_S) if after is not None else wait


def _seconds(value: str | None) -> float | None:
    """Retry-After as seconds (the delta-seconds form only), or None."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
