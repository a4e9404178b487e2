"""`agent serve`'s HTTP layer: /v1/models and /v1/chat/completions (JSON or SSE) on the stdlib server.

Each connection gets a thread (ThreadingHTTPServer); they only parse, queue and write, while the
single Engine thread runs the model. Every failure is an OpenAI-shaped JSON error, never a traceback.
With an API key configured, requests must carry `Authorization: Bearer KEY`.
"""
from __future__ import annotations

import hmac
import json
import queue
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.serve import responses
from agent.serve.engine import Engine, Job, Outcome
from agent.serve.errors import ApiError, bad_request
from agent.serve.requests import parse_request

MAX_BODY_BYTES = 200 << 20
WAIT_POLL_S = 1.0


class ServeConfig:
    """What the handlers need: the engine, the served model name, the key, image options."""

    def __init__(self, engine: Engine, model_name: str, api_key: str | None = None,
                 allow_local_images: bool = False, quiet: bool = False):
        self.engine, self.model_name, self.api_key = engine, model_name, api_key
        self.allow_local_images, self.quiet = allow_local_images, quiet
        self.created = int(time.time())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "agent-serve"
    config: ServeConfig  # set on the subclass made by make_server

    # ------------------------------------------------------------------------------ routes

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._guarded(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._guarded(self._post)

    def _get(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/health", "/v1/health"):
            return self._json(200, {"status": "ok"})
        self._authorize()
        if path == "/v1/models":
            return self._json(200, responses.models_body(self.config.model_name, self.config.created))
        raise ApiError(404, f"no route GET {path}")

    def _post(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != "/v1/chat/completions":
            raise ApiError(404, f"no route POST {path}")
        self._authorize()
        request = parse_request(self._body(), self.config.allow_local_images)
        if request.model != self.config.model_name:
            raise ApiError(404, f"The model `{request.model}` does not exist; this server serves "
                           f"`{self.config.model_name}`", param="model", code="model_not_found")
        job = self.config.engine.submit(request)
        if request.stream:
            self._stream(job)
        else:
            kind, value = self._next_event(job)
            while kind == "text":
                kind, value = self._next_event(job)
            if kind == "error":
                raise value
            self._json(200, self._completion(request, value))

    # ------------------------------------------------------------------------------ bodies

    def _completion(self, request, outcome: Outcome) -> dict[str, Any]:
        calls = self._tool_calls(request, outcome.text)
        return responses.completion_body(
            responses.completion_id(), self.config.model_name, outcome.text, calls,
            responses.finish_reason(outcome.stop_reason, calls), self._usage(outcome))

    @staticmethod
    def _tool_calls(request, text: str) -> list:
        if not request.tools or request.tool_choice == "none":
            return []
        return responses.hermes_tool_calls(text)

    @staticmethod
    def _usage(outcome: Outcome) -> dict[str, Any]:
        return responses.usage(outcome.prompt_tokens, outcome.completion_tokens, outcome.cached_tokens)

    def _stream(self, job: Job) -> None:
        request, name, id = job.request, self.config.model_name, responses.completion_id()
        kind, value = self._next_event(job)
        if kind == "error":  # failed before any token: a plain error response is still possible
            raise value
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self._write(responses.sse(responses.chunk(id, name, {"role": "assistant", "content": ""})))
            while kind == "text":
                self._write(responses.sse(responses.chunk(id, name, {"content": value})))
                kind, value = self._next_event(job)
            if kind == "error":
                self._write(responses.sse(value.body()))
            else:
                calls = self._tool_calls(request, value.text)
                if calls:
                    delta = {"tool_calls": [{"index": i, **call} for i, call in enumerate(calls)]}
                    self._write(responses.sse(responses.chunk(id, name, delta)))
                finish = responses.finish_reason(value.stop_reason, calls)
                self._write(responses.sse(responses.chunk(id, name, {}, finish)))
                if request.include_usage:
                    self._write(responses.sse(responses.chunk(id, name, None, usage_=self._usage(value))))
            self._write(responses.sse("[DONE]"))
        except OSError:  # the client went away
            job.cancelled.set()

    # ------------------------------------------------------------------------------ plumbing

    def _next_event(self, job: Job) -> tuple[str, Any]:
        while True:
            try:
                return job.events.get(timeout=WAIT_POLL_S)
            except queue.Empty:
                if not self.config.engine.thread.is_alive():
                    return "error", ApiError(500, "the engine stopped")

    def _authorize(self) -> None:
        key = self.config.api_key
        if key is None:
            return
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
            raise ApiError(401, "missing or wrong API key (send Authorization: Bearer KEY)", code="invalid_api_key")

    def _body(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise bad_request("the request needs a Content-Length header")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise ApiError(413, f"request body over {MAX_BODY_BYTES >> 20} MiB")
        raw = self.rfile.read(int(length))
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise bad_request(f"the body is not valid JSON: {error}") from None
        except RecursionError:
            raise bad_request("the body is JSON nested too deeply") from None

    def _guarded(self, route) -> None:
        try:
            route()
        except ApiError as error:
            self._json(error.status, error.body())
        except OSError:
            self.close_connection = True  # the client went away mid-answer
        except Exception as error:  # never a traceback to the client
            print(f"agent serve: {type(error).__name__}: {error}", file=sys.stderr)
            self._json(500, ApiError(500, f"internal error: {type(error).__name__}").body())

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:  # request lines only: no headers, no keys
        if not self.config.quiet:
            sys.stderr.write(f"agent serve: {self.address_string()} {format % args}\n")


def make_server(config: ServeConfig, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A bound (not yet serving) HTTP server; port 0 picks a free port (server.server_address)."""
    handler = type("BoundHandler", (Handler,), {"config": config})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    """Run `server` on a daemon thread (tests, benchmarks); stop with server.shutdown()."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return thread
