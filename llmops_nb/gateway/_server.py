"""Run the gateway as an HTTP server: ``gw.serve()`` in a notebook, ``python -m llmops_nb gateway`` in a shell.

>>> server = llmops_nb.gateway.load("gateway.yaml").serve()      # doctest: +SKIP
>>> openai.OpenAI(base_url=server.openai_base_url, api_key=server.master_key)   # doctest: +SKIP
>>> server.stop()                                                 # doctest: +SKIP

uvicorn serves the app of :mod:`._server_app` on its own event loop in a daemon thread, so a
notebook's cell returns at once and the kernel's loop is never borrowed; the command line runs the
same thread and waits for SIGINT/SIGTERM in the main thread (uvicorn's own signal handling would
re-raise the signal after shutdown, before the store is flushed).

Every route wants a key. With ``general_settings.master_key`` in the config, that key is the owner's;
without one, ``serve()`` makes a random master key for this process (``server.master_key``, never
logged) — but only on this machine: listening on anything but loopback needs ``allow_remote=True``
and a master key from the config, so a key that lives in one kernel's memory never guards a port
others can reach.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets
import signal
import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn

from ._config_secrets import resolve_secret
from ._errors import GatewayConfigError, GatewayError
from ._server_app import create_app

__all__ = ["GatewayServer", "serve"]

#: seconds uvicorn lets open requests (streams) finish on stop before cancelling them
GRACEFUL_SHUTDOWN_S = 10
_STARTUP_TIMEOUT_S = 30.0
NO_MASTER_KEY = ("set general_settings.master_key: os.environ/LLMOPS_GW_MASTER_KEY — every route needs a key")


def is_loopback(host: str) -> bool:
    """True for the names and addresses of this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when installed (the gateway extra has it; LiteLLM's proxy runs on it too, so the
    benchmark compares like with like), asyncio's otherwise. uvicorn picks httptools, the faster HTTP
    parser, by itself when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, telling the starting thread when it accepts connections (or failed to start)."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self.ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


class GatewayServer:
    """A running gateway server: ``url``, ``openai_base_url``, ``anthropic_base_url``, ``master_key``; ``stop()``.

    A context manager: ``with gw.serve() as server: ...`` stops it on exit.
    """

    def __init__(self, gateway: Any, sock: socket.socket, *, master_key: str, generated_key: bool,
                 log_level: str) -> None:
        self.gateway = gateway
        self.master_key = master_key
        self.host, self.port = sock.getsockname()[:2]
        self._sock = sock
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopped = False
        # log_config=None: uvicorn does not reconfigure the notebook's logging; its warnings reach the root logger
        config = uvicorn.Config(create_app(gateway, master_key=master_key if generated_key else None),
                                log_config=None, log_level=log_level, lifespan="off", ws="none",
                                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
        self._server = _Uvicorn(config, self._ready)
        self._thread = threading.Thread(target=self._run, name=f"llmops_nb-gateway-server:{self.port}", daemon=True)

    # -- addresses ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """For ``openai.OpenAI(base_url=...)``: the SDK appends ``/chat/completions``."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """For ``anthropic.Anthropic(base_url=...)``: the SDK appends ``/v1/messages``."""
        return self.url

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopped

    # -- lifecycle ------------------------------------------------------------------------------------
    def _start(self) -> None:
        self._thread.start()
        if not self._ready.wait(_STARTUP_TIMEOUT_S) or self._error is not None or not self._server.started:
            self.stop()
            cause = f": {type(self._error).__name__}: {self._error}" if self._error is not None else ""
            raise GatewayError(f"the gateway server on {self.url} did not start{cause}") from self._error

    def _run(self) -> None:
        loop = _new_loop()
        try:
            loop.run_until_complete(self._main())
            loop.run_until_complete(loop.shutdown_asyncgens())
        except BaseException as exc:  # noqa: BLE001 - told to the thread that waits for the start
            self._error = exc
        finally:
            loop.close()
            self._ready.set()

    async def _main(self) -> None:
        try:
            await self._server.serve(sockets=[self._sock])
        finally:
            # The upstream connections opened on this loop die with it: close them here, on their own loop.
            await self.gateway.aclose()

    def stop(self, timeout: float = GRACEFUL_SHUTDOWN_S + 5) -> None:
        """Stop accepting, let open requests finish (up to ``GRACEFUL_SHUTDOWN_S``), and join the thread."""
        if self._stopped:
            return
        self._stopped = True
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():  # something ignores the graceful path: cancel what is left
            self._server.force_exit = True
            self._thread.join(5)
        self._sock.close()

    def wait(self) -> None:
        """Block until Ctrl-C or SIGTERM (or the server ends), then stop gracefully; a second signal hurries it."""
        stopping = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            if stopping.is_set():
                self._server.force_exit = True
            stopping.set()

        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
            previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self._thread.is_alive() and not stopping.wait(0.5):
                pass
            self.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def __enter__(self) -> GatewayServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:  # never the master key
        return f"<llmops_nb GatewayServer {self.url} {'running' if self.running else 'stopped'}>"


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), bound here so the real port is known at once."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart reuses the port at once
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def serve(gateway: Any, host: str = "127.0.0.1", port: int = 0, *, background: bool = True,
          log_level: str = "warning", allow_remote: bool = False) -> GatewayServer:
    """Serve ``gateway`` over HTTP; returns once it accepts connections.

    ``port=0`` takes a free port (``server.url`` has the real one). ``background=False`` serves until
    Ctrl-C or SIGTERM, then returns the stopped server. Without a master key in the config, a random
    one is made for this process: ``server.master_key``.

    >>> server = serve(llmops_nb.gateway.load("gateway.yaml"))     # doctest: +SKIP
    >>> server.openai_base_url                                     # doctest: +SKIP
    'http://127.0.0.1:40517/v1'
    """
    config = gateway.config
    if not is_loopback(host):
        if not allow_remote:
            raise GatewayConfigError(f"listening on {host} opens the gateway to other machines; pass "
                                     "allow_remote=True (--allow-remote) if that is meant, or serve on 127.0.0.1")
        if config.master_key_ref is None:
            raise GatewayConfigError(f"listening on {host} needs a master key from the config: {NO_MASTER_KEY}")
    configured = resolve_secret(config.master_key_ref, config.secrets_file)
    master_key = configured or "sk-master-" + secrets.token_urlsafe(32)  # sk-llmops- is a virtual key's
    server = GatewayServer(gateway, _bind(host, port), master_key=master_key, generated_key=configured is None,
                           log_level=log_level)
    server._start()
    if not background:
        server.wait()
    return server
