"""`agent serve`: load a checkpoint once and answer OpenAI-compatible chat requests until Ctrl-C."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServeOptions:
    model: str
    host: str = "127.0.0.1"
    port: int = 8000
    served_model_name: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    api_key_env: str | None = None
    allow_remote: bool = False
    allow_local_images: bool = False
    pool_size: int = 4
    kv_budget_mib: int | None = None
    max_pixels: int | None = None
    queue_size: int = 8
    no_cache: bool = False


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def serve_command(options: ServeOptions) -> int:
    """Exit status: 2 when the server cannot start, 0 after Ctrl-C."""
    if options.host not in LOCAL_HOSTS and not options.allow_remote:
        return _fail(f"--host {options.host} would expose the model beyond this machine; add --allow-remote "
                     "(and --api-key-env VAR, or anyone who can reach the port can use it)")
    if not 0 <= options.port <= 65535:
        return _fail(f"--port must be 0..65535, got {options.port}")
    for flag, value in (("--pool-size", options.pool_size), ("--queue-size", options.queue_size)):
        if value < 1:
            return _fail(f"{flag} must be at least 1, got {value}")
    api_key = None
    if options.api_key_env:
        api_key = os.environ.get(options.api_key_env, "").strip()
        if not api_key:
            return _fail(f"--api-key-env {options.api_key_env}: that environment variable is not set or empty")
    from agent.policies.base import PolicyUnavailable
    from agent.policies.local import load_model

    try:
        loaded = load_model(options.model, options.device, options.dtype)
    except PolicyUnavailable as error:
        return _fail(str(error).splitlines()[0])
    try:
        server = build_server(loaded, options, api_key)
    except OSError as error:
        return _fail(f"cannot listen on {options.host}:{options.port}: {error.strerror or error}")
    host, port = server.server_address[:2]
    if options.host not in LOCAL_HOSTS:
        print(f"warning: serving on {host}:{port}, reachable from other machines"
              + ("" if api_key else " with NO authentication"), file=sys.stderr)
    print(f"agent serve: {options.served_model_name or options.model} on http://{host}:{port}/v1 "
          "(Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.config.engine.stop()
    return 0


def build_server(loaded, options: ServeOptions, api_key: str | None = None, quiet: bool = False):
    """A bound server (with its engine running) for `loaded`; call serve_forever or serve_in_thread."""
    from agent.serve.app import ServeConfig, make_server
    from agent.serve.engine import Engine
    from agent.serve.pool import ConversationPool

    budget = options.kv_budget_mib << 20 if options.kv_budget_mib else None
    pool = ConversationPool(loaded, size=options.pool_size, kv_budget_bytes=budget,
                            max_pixels=options.max_pixels, reuse=not options.no_cache)
    engine = Engine(loaded, pool, queue_size=options.queue_size)
    config = ServeConfig(engine, options.served_model_name or options.model, api_key,
                         options.allow_local_images, quiet=quiet)
    try:
        server = make_server(config, options.host, options.port)
    except OSError:
        engine.stop()
        raise
    server.config = config  # type: ignore[attr-defined]
    return server
