"""`agent serve`: load a checkpoint once and answer OpenAI-compatible chat requests until Ctrl-C."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from agent.errors import PolicyUnavailable, SettingsError, UserError
from agent.policies.local import load_model
from agent.serve.app import ServeConfig, make_server
from agent.serve.engine import Engine
from agent.serve.pool import ConversationPool
from agent.settings import require_positive

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServeOptions:
    """What `agent serve` was asked for (each field is the flag of the same name)."""

    model: str
    """Local folder (or hub id) of the checkpoint."""
    host: str = "127.0.0.1"
    """Address to listen on; other than localhost needs allow_remote."""
    port: int = 8000
    """Port (0: any free port)."""
    served_model_name: str | None = None
    """Model name clients send (default: model as given)."""
    device: str = "auto"
    """cpu, cuda, cuda:1 … (auto: cuda when available)."""
    dtype: str = "auto"
    """float32, bfloat16, float16 (auto: bf16 on CUDA, fp32 on CPU)."""
    api_key_env: str | None = None
    """NAME of an environment variable whose value clients must send as Bearer key."""
    allow_remote: bool = False
    """Allow a host reachable from other machines."""
    allow_local_images: bool = False
    """Accept local file paths as image URLs."""
    pool_size: int = 4
    """Conversations whose KV cache is kept between requests."""
    kv_budget_mib: int | None = None
    """KV cache memory of all kept conversations, MiB (None: no bound)."""
    max_pixels: int | None = None
    """Pixel budget per image (None: the checkpoint's)."""
    queue_size: int = 8
    """Requests waiting at most; more get 503."""
    no_cache: bool = False
    """Re-read the whole history every request (the baseline)."""


def serve_command(options: ServeOptions) -> int:
    """Serve until Ctrl-C, then exit 0; a server that cannot start is a UserError (exit 2)."""
    api_key = _check(options)
    try:
        loaded = load_model(options.model, options.device, options.dtype)
    except PolicyUnavailable as error:  # the local policy's alternatives do not apply to a server
        raise UserError(str(error).splitlines()[0]) from error
    try:
        server = build_server(loaded, options, api_key)
    except OSError as error:
        raise UserError(f"cannot listen on {options.host}:{options.port}: {error.strerror or error}") from error
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


def _check(options: ServeOptions) -> str | None:
    """Refuse options that cannot work before loading the model; the API key clients must send, if any."""
    if options.host not in LOCAL_HOSTS and not options.allow_remote:
        raise SettingsError(f"--host {options.host} would expose the model beyond this machine; add --allow-remote "
                            "(and --api-key-env VAR, or anyone who can reach the port can use it)")
    if not 0 <= options.port <= 65535:
        raise SettingsError(f"--port must be 0..65535, got {options.port}")
    require_positive("--pool-size", options.pool_size)
    require_positive("--queue-size", options.queue_size)
    if not options.api_key_env:
        return None
    api_key = os.environ.get(options.api_key_env, "").strip()
    if not api_key:
        raise SettingsError(f"--api-key-env {options.api_key_env}: that environment variable is not set or empty")
    return api_key


def build_server(loaded, options: ServeOptions, api_key: str | None = None, quiet: bool = False):
    """A bound server (with its engine running) for `loaded`; call serve_forever or serve_in_thread."""
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
