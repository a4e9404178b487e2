"""A scripted OpenAI-style server on 127.0.0.1 for the http policy's tests: it answers from a list,
records what it was sent, and always shuts down."""
from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # dict → JSON, bytes → sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Script:
    chat: list[Answer] = field(default_factory=list)
    models: Answer = field(default_factory=lambda: Answer(200, {"object": "list", "data": [{"id": "served-model"}]}))
    requests: list[dict] = field(default_factory=list)  # {"method", "path", "headers", "json"}
    stop: threading.Event = field(default_factory=threading.Event)

    def next_chat(self) -> Answer:
        return self.chat.pop(0) if len(self.chat) > 1 else self.chat[0]


def _handler(script: Script):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _record(self, body):
            script.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                    "json": body})

        def _send(self, answer: Answer):
            if answer.delay_s:
                script.stop.wait(answer.delay_s)
            data = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass

        def do_GET(self):
            self._record(None)
            self._send(script.models)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            self._record(json.loads(raw) if raw else None)
            self._send(script.next_chat())

    return Handler


@contextmanager
def fake_server(script: Script):
    """Serve `script` on a free 127.0.0.1 port; yields the base URL (…/v1)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        script.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def free_port_nobody_listens_on() -> int:
    """A port that was free a moment ago (for 'server down' tests)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def now() -> float:
    return time.monotonic()
