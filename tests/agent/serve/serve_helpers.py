"""Helpers for `agent serve` tests: run the server in this process on a free 127.0.0.1 port."""
from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def running_server(loaded, **options):
    """`agent serve` on a free 127.0.0.1 port in this process; yields (base URL, server); always shut down."""
    from agent.commands.serve import ServeOptions, build_server
    from agent.serve.app import serve_in_thread

    api_key = options.pop("api_key", None)
    server = build_server(loaded, ServeOptions(model="tiny", host="127.0.0.1", port=0, **options), api_key, quiet=True)
    thread = serve_in_thread(server)
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}/v1", server
    finally:
        server.shutdown()
        server.server_close()
        server.config.engine.stop()
        thread.join(timeout=10)
