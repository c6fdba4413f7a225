"""The kernel's side of the offline model: start its server process, watch it, restart it once, name its death.

The model runs in a child process (``python -m llmops_nb.local_model``) so that a native crash in
llama.cpp — SIGILL from a build for the wrong CPU, a segfault, the out-of-memory killer — ends
that process and not the user's kernel with every variable in it. The child binds a free port on
127.0.0.1 and reports it once the model is loaded; a GET /v1/models with the key confirms it serves.

The key is made here (``secrets.token_urlsafe``) and handed over in an environment variable, never
in argv (``/proc/PID/cmdline`` is readable by every user); it is never logged. The child's stderr
goes to a log file in a temporary folder, whose tail is quoted when the child dies.

A watcher thread waits on the child. The first unexpected death is logged and the child restarted on
the same port, so clients built with the old ``base_url`` keep working (the SDK's own retries, or
ours in ``llmops_nb.models``, cover the second or so it takes). A second death, or a restart that
fails, leaves the server down for good: ``check()`` then raises ``LocalModelError`` at once, naming
the cause, so calls fail in milliseconds instead of waiting for connection timeouts.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import logging
import os
import secrets
import selectors
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ._install import MODEL, REBUILD_LLAMA, LocalModelError, check_installed
from ._serve import KEY_ENV, LOG_DIR_ENV

logger = logging.getLogger("llmops_nb.local_model")
_TAIL_LINES = 15
_MAX_TAIL_LINES = 60
# faulthandler's names for the fatal signals it reports. The first report names the signal that
# started the crash: dumping every thread's stack can itself crash (another thread's frames change
# under it), and the process then dies of that second signal, seen in CI as SIGILL → SIGSEGV.
_FAULTHANDLER_SIGNALS = {"Illegal instruction": signal.SIGILL, "Segmentation fault": signal.SIGSEGV,
                         "Bus error": signal.SIGBUS, "Floating-point exception": signal.SIGFPE,
                         "Aborted": signal.SIGABRT}
_RECOVER = "Once the cause is fixed, start a new server with llmops_nb.local_model.local_server(restart=True)."


class LocalServer:
    """The offline model in its own process; ``base_url`` ends in ``/v1`` as the ``openai`` SDK expects.

    >>> server = start_local_server()  # doctest: +SKIP
    >>> client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)  # doctest: +SKIP
    >>> server.close()  # doctest: +SKIP
    """

    model = MODEL

    def __init__(self, *, timeout: float = 60.0) -> None:
        #: the bearer token every request needs; made per server, never logged
        self.api_key = secrets.token_urlsafe(32)
        #: seconds the server process may take to load the model and answer
        self.timeout = timeout
        #: restarts after an unexpected death (at most one)
        self.restarts = 0
        #: the server process's stderr: llama.cpp's messages, tracebacks of native crashes
        self.log_path = Path(tempfile.mkdtemp(prefix="llmops_nb-local-model-")) / "server.log"
        self._changed = threading.Condition()
        self._closed = False
        self._failure: str | None = None
        self._port = 0
        try:
            self._process = self._spawn(0)
        except BaseException:
            if not self.log_path.exists():  # nothing ran; otherwise the error quotes the log: keep it
                self._remove_log()
            raise
        self._watcher = threading.Thread(target=self._watch, name="llmops_nb-local-model-watch", daemon=True)
        self._watcher.start()
        atexit.register(self.close)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pid(self) -> int:
        """The server process's id (it changes when the server is restarted)."""
        return self._process.pid

    def check(self, *, connection_failed: bool = False) -> None:
        """Return when the server is serving; raise ``LocalModelError`` naming the cause when it is down for good.

        Waits while a restart is under way. ``connection_failed=True`` (a request could not connect)
        first gives the watcher a moment to notice a death that has just happened.
        """
        if connection_failed:
            process, end = self._process, time.monotonic() + 1.0
            while process.returncode is None and time.monotonic() < end:
                time.sleep(0.01)
        deadline = time.monotonic() + self.timeout
        with self._changed:
            while True:
                if self._closed:
                    raise LocalModelError("This offline model server was closed; start one with "
                                          "llmops_nb.local_model.local_server().")
                if self._failure:
                    raise LocalModelError(self._failure)
                if self._process.returncode is None:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LocalModelError(f"The offline model server has been restarting for {self.timeout:g} s; "
                                          f"see its log: {self.log_path}")
                self._changed.wait(left)

    def close(self) -> None:
        """Stop the server process; safe to call twice. Its log is kept if it failed."""
        with self._changed:
            if self._closed:
                return
            self._closed = True
            process = self._process
            self._changed.notify_all()
        atexit.unregister(self.close)
        _stop(process)
        if not self._failure:
            self._remove_log()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "failed" if self._failure else f"pid {self.pid}"
        return f"LocalServer(base_url={self.base_url!r}, model={self.model!r}, {state})"

    # -- the server process ------------------------------------------------------------------
    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        """Start the server process and wait until it serves; raise ``LocalModelError`` if it does not."""
        check_installed()  # a missing piece is named now, without spawning anything
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._oom_before = _oom_kills()
        with open(self.log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "llmops_nb.local_model", "--port", str(port)],
                stdin=subprocess.PIPE,  # never written: its end-of-file tells the child we are gone
                stdout=subprocess.PIPE,
                stderr=log,
                env={**_child_env(self.api_key), LOG_DIR_ENV: str(self.log_path.parent)},
                # Its own session: a Jupyter interrupt signals the kernel's whole process group.
                start_new_session=True,
            )
        try:
            self._port = self._await_port(process)
            self._health_check()
        except LocalModelError:
            _stop(process)
            raise
        return process

    def _await_port(self, process: subprocess.Popen[bytes]) -> int:
        assert process.stdout is not None
        deadline, data = time.monotonic() + self.timeout, b""
        with process.stdout, selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while b"\n" not in data:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LocalModelError(f"The offline model server did not start within {self.timeout:g} s; on "
                                          "a busy machine allow more: start_local_server(timeout=...)."
                                          f"{self._log_note()}")
                if selector.select(left):
                    chunk = os.read(process.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    data += chunk
        if b"\n" not in data:  # it died before reporting
            code = process.wait()
            raise LocalModelError(f"The offline model server could not start: {self._cause(code)}.{self._log_note()}")
        report = json.loads(data.split(b"\n", 1)[0])
        if "error" in report:  # a missing package or model file: its message names the install command
            process.wait()
            raise LocalModelError(report["error"])
        return int(report["port"])

    def _health_check(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=self.timeout)
        try:
            connection.request("GET", "/v1/models", headers={"Authorization": f"Bearer {self.api_key}"})
            response = connection.getresponse()
            response.read()
        except OSError as exc:
            raise LocalModelError(f"The offline model server reported port {self._port} but GET /v1/models "
                                  f"failed: {exc}.{self._log_note()}") from exc
        finally:
            connection.close()
        if response.status != 200:
            raise LocalModelError(f"The offline model server answered GET /v1/models with HTTP {response.status}."
                                  f"{self._log_note()}")

    def _watch(self) -> None:
        while True:
            code = self._process.wait()
            with self._changed:
                if self._closed:
                    return
                _stop(self._process)  # closes its pipe
                cause = self._cause(code)
                if self.restarts >= 1:
                    self._fail(f"The offline model server died again: {cause}.{self._log_note()}")
                    return
                self.restarts += 1
            logger.warning("llmops_nb: the offline model server died: %s. Restarting it on port %d (log: %s).",
                           cause, self._port, self.log_path)
            try:
                process = self._spawn(self._port)
            except (LocalModelError, OSError) as exc:  # OSError: closed meanwhile, its log folder removed
                with self._changed:
                    if not self._closed:
                        self._fail(f"The offline model server died ({cause}) and could not be restarted: {exc}")
                return
            with self._changed:
                self._process = process
                self._changed.notify_all()
                if self._closed:  # closed while restarting
                    _stop(process)
                    return

    def _fail(self, message: str) -> None:
        self._failure = f"{message}\n{_RECOVER}"
        self._changed.notify_all()
        logger.error("llmops_nb: %s", self._failure)

    def _cause(self, code: int) -> str:
        oom = self._oom_before is not None and (_oom_kills() or 0) > self._oom_before
        if code < 0:
            first = _first_fatal_signal(self._log_lines())
            code = -first if first is not None else code
        return describe_exit(code, oom_killed=oom)

    def _log_lines(self) -> list[str] | None:
        """What the current process wrote to the log (None when the log cannot be read)."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_start)
                return log.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return None

    def _log_note(self) -> str:
        lines = self._log_lines()
        if lines is None:
            return ""
        if not lines:
            return f"\nIts log: {self.log_path}"
        # From faulthandler's first header when there is one: it names the signal and every thread's stack.
        fatal = [i for i, line in enumerate(lines) if line.startswith("Fatal Python error")]
        lines = lines[fatal[0]:][:_MAX_TAIL_LINES] if fatal else lines[-_TAIL_LINES:]
        return f"\nIts log ({self.log_path}) ends with:\n" + "\n".join(lines)

    def _remove_log(self) -> None:
        shutil.rmtree(self.log_path.parent, ignore_errors=True)


def start_local_server(*, timeout: float = 60.0) -> LocalServer:
    """Start SmolLM2 in its own server process (about a second) and return once it answers.

    Raises ``LocalModelError`` naming the install command when a piece is missing, or the cause
    (with the log's last lines) when the process cannot start within ``timeout`` seconds.

    >>> with start_local_server() as server:  # doctest: +SKIP
    ...     openai.OpenAI(base_url=server.base_url, api_key=server.api_key).models.list()
    """
    return LocalServer(timeout=timeout)


def describe_exit(code: int, *, oom_killed: bool = False) -> str:
    """Say why a process ended, from its exit status (negative: the signal that killed it), and what to do."""
    if code >= 0:
        return f"it exited with code {code}"
    number = -code
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == signal.SIGILL:
        return ("illegal instruction (SIGILL): llama-cpp-python was compiled for CPU features this machine lacks; "
                f"rebuild it portable with: {REBUILD_LLAMA}")
    if number == signal.SIGKILL:
        if oom_killed:
            return ("killed by the out-of-memory killer (SIGKILL): the machine ran out of memory; the model needs "
                    "about 250 MB, so free some (other kernels, large DataFrames) and try again")
        return ("killed (SIGKILL) by another process, or by the out-of-memory killer if memory ran out "
                "(the model needs about 250 MB)")
    if number in (signal.SIGSEGV, signal.SIGBUS):
        return (f"a crash in native code ({name}, {signal.strsignal(number)}) in llama.cpp; if it happens again, "
                f"reinstall llama-cpp-python with: {REBUILD_LLAMA}")
    if number == signal.SIGABRT:
        return "llama.cpp aborted (SIGABRT) on an internal check; the log names it"
    return f"killed by {name} ({signal.strsignal(number) if name != f'signal {number}' else 'unknown signal'})"


def _first_fatal_signal(lines: list[str] | None) -> int | None:
    """The signal named by faulthandler's first "Fatal Python error: <signal>" line, if any."""
    for line in lines or ():
        if line.startswith("Fatal Python error: "):
            # A second report can start on the same line, mid-traceback: only its start is a name.
            text = line.removeprefix("Fatal Python error: ")
            return next((int(number) for name, number in _FAULTHANDLER_SIGNALS.items() if text.startswith(name)), None)
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End a server process (it is told by SIGTERM, then SIGKILL) and close its pipes."""
    if process.returncode is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def _child_env(key: str) -> dict[str, str]:
    # GGML_NO_BACKTRACE: on an abort ggml forks to attach gdb for a backtrace; that needs ptrace, takes
    # seconds, and when two threads aborted at once we saw the forks wait on each other forever.
    # faulthandler's Python traceback and ggml's own message still reach the log.
    env = {**os.environ, KEY_ENV: key, "GGML_NO_BACKTRACE": "1"}
    # The child must import this same llmops_nb, also when it is on sys.path only (a source
    # checkout, a test run). A site-packages folder is not added: PYTHONPATH would put it before
    # the standard library.
    root = str(Path(__file__).resolve().parents[2])
    if root not in {str(Path(p).resolve()) for p in [*site.getsitepackages(), site.getusersitepackages()]}:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), root) if p)
    return env


def _oom_kills() -> int | None:
    """Processes of our cgroup killed for lack of memory so far (cgroup v2), or None if unreadable."""
    try:
        line = Path("/proc/self/cgroup").read_text().strip().splitlines()[-1]
        events = Path("/sys/fs/cgroup", line.split(":", 2)[2].lstrip("/"), "memory.events").read_text()
    except (OSError, IndexError):
        return None
    for row in events.splitlines():
        if row.startswith("oom_kill "):
            return int(row.split()[1])
    return None
