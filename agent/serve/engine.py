"""One engine, one worker thread: requests queue up and are answered one at a time.

A request becomes a Job; the worker picks the pooled Session with the longest matching prefix,
generates, and reports text pieces (for streaming) and the finished reply through the Job's event
queue. A full queue refuses new work at once (the HTTP layer answers 503). A client that goes away
cancels its Job: decoding stops at the next token.
"""
from __future__ import annotations

import queue
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.serve.errors import ApiError
from agent.serve.pool import ConversationPool
from agent.serve.requests import ChatRequest
from model import GenerationConfig, KVBudgetError

if TYPE_CHECKING:
    from model import LoadedModel

DEFAULT_MAX_NEW_TOKENS = 1024  # when a request gives no max_tokens


class Cancelled(Exception):
    """The client went away; stop generating."""


@dataclass
class Outcome:
    """A finished reply and its counters."""

    text: str
    stop_reason: str
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int


@dataclass
class Job:
    request: ChatRequest
    events: "queue.Queue[tuple[str, Any]]" = field(default_factory=queue.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)


class Engine:
    """Owns the model and the conversation pool; serves Jobs in order on its own thread."""

    def __init__(self, loaded: "LoadedModel", pool: ConversationPool, queue_size: int = 8,
                 max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS):
        self.loaded, self.pool, self.max_new_tokens = loaded, pool, max_new_tokens
        self.jobs: "queue.Queue[Job | None]" = queue.Queue(maxsize=queue_size)
        self.thread = threading.Thread(target=self._work, name="agent-serve-engine", daemon=True)
        self.thread.start()

    def submit(self, request: ChatRequest) -> Job:
        """Queue a request; ApiError(503) when the queue is full."""
        job = Job(request)
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            raise ApiError(503, f"the server is busy ({self.jobs.maxsize} requests queued); retry later",
                           code="queue_full") from None
        return job

    def stop(self) -> None:
        """Finish the current job and end the worker thread."""
        while True:
            try:
                self.jobs.put(None, timeout=1)
                break
            except queue.Full:
                job = self.jobs.get_nowait()
                if job is not None:
                    job.cancelled.set()
                    job.events.put(("error", ApiError(503, "the server is shutting down")))
        self.thread.join(timeout=60)

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if job.cancelled.is_set():
                continue
            job.events.put(self._serve(job))

    def _serve(self, job: Job) -> tuple[str, Any]:
        session = None
        try:
            config = self._generation_config(job.request)
            session = self.pool.session_for(job.request)

            def on_token(token_id: int, piece: str) -> None:
                if job.cancelled.is_set():
                    raise Cancelled()
                if piece and job.request.stream:
                    job.events.put(("text", piece))

            reply = session.generate(config, on_token)
            self.pool.finished(session, reply.text)
            counters = reply.counters
            return "done", Outcome(reply.text, reply.stop_reason, counters.prompt_tokens, counters.cached_tokens,
                                   counters.generated_tokens)
        except ApiError as error:
            return "error", error
        except Cancelled:
            self.pool.forget(session)
            return "error", ApiError(499, "the client closed the connection")
        except Exception as error:  # the message goes to the client; the server keeps running
            if session is not None:
                self.pool.forget(session)
            return "error", _as_api_error(error)

    def _generation_config(self, request: ChatRequest):
        sampling = request.sampling
        defaults = self.loaded.generation_defaults or GenerationConfig()
        config = defaults.with_overrides(
            max_new_tokens=sampling.max_tokens or self.max_new_tokens, temperature=sampling.temperature,
            top_p=sampling.top_p, top_k=sampling.top_k, seed=sampling.seed,
            stop_strings=sampling.stop or None)
        try:
            return config.validate()
        except ValueError as error:
            raise ApiError(400, str(error)) from None


def _as_api_error(error: Exception) -> ApiError:
    """Budget and template errors are the request's fault (400); anything else is ours (500)."""
    name = type(error).__name__
    if isinstance(error, KVBudgetError):
        return ApiError(400, f"the conversation does not fit this server's KV budget: {error}",
                        code="context_length_exceeded")
    if name in ("TemplateError", "UndefinedError", "TemplateSyntaxError", "SecurityError") or isinstance(error, ValueError):
        return ApiError(400, f"cannot render this conversation: {error}")
    print(f"agent serve: request failed: {name}: {error}", file=sys.stderr)
    return ApiError(500, f"internal error: {name}: {error}")
