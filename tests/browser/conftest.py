"""Fixtures for the browser tests: a Jupyter server per session, Debian's chromium through
pytest-playwright, and helpers to open a notebook and run it.

The recipe and its pitfalls are in ../shared/browser-testing.md: the server gets its own config,
runtime and IPython dirs, a random token and a free port on 127.0.0.1, with JupyterLab's news toast
disabled; it is stopped through its process group (kernels run in their own sessions, so they are shut
down through the REST API first). Playwright cannot download a browser here: ``/usr/bin/chromium``
is launched instead (``apt-get install -y --no-install-recommends chromium``); without it the tests
skip, or fail when ``CI`` is set.

Use::

    def test_x(jupyter_lab, page, page_problems):
        jupyter_lab.write_notebook("x.ipynb", ["%load_ext llmops_nb", "..."])
        jupyter_lab.open_notebook(page, "x.ipynb")  # waits for an idle kernel, then runs all cells
        expect(page.locator(".lnb-explorer .lnb-row").first).to_be_visible(timeout=FIRST_RENDER_MS)
        assert not page_problems
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags chromium keeps calling home on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
#: A first render includes the kernel starting and importing llmops_nb: generous on 2 busy cores.
FIRST_RENDER_MS = 60_000
#: Notebook 7.6 throws this on every page load, widgets or not (browser-testing.md, pitfall 6).
KNOWN_NOTEBOOK7_ERROR = "reading 'schema'"
_KERNEL_IDLE_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return Boolean(k && k.status === 'idle');
}"""


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch options, pointed at Debian's chromium."""
    _require_chromium()
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url() -> None:
    """No base URL. Replaces pytest-playwright 0.10's own fallback fixture, a method of a plugin object,
    which pytest 9 deprecates with a warning (an error under this project's ``filterwarnings``)."""
    return None


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 1000}, "color_scheme": "light"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JupyterServer:
    """A running ``jupyter lab`` or ``jupyter notebook`` server and the notebooks it serves."""

    app: str  # "lab" or "notebook"
    url: str
    token: str
    root: Path  # the server's root dir: notebooks go here
    log: Path
    proc: subprocess.Popen[bytes] = field(repr=False)

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        """Write a notebook of code cells (Python 3 kernel) into the server's root."""
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        return path

    def notebook_url(self, name: str) -> str:
        if self.app == "lab":
            # a fresh workspace: JupyterLab would otherwise restore the tabs of the last one (pitfall 3)
            return f"{self.url}/lab/workspaces/t-{secrets.token_hex(4)}/tree/{name}?token={self.token}"
        return f"{self.url}/notebooks/{name}?token={self.token}"

    def open_notebook(self, page: Any, name: str, *, run_all: bool = True) -> None:
        """Open a notebook, wait for its kernel to be idle, then (by default) run all its cells."""
        page.goto(self.notebook_url(name))
        wait_kernel_idle(page)
        if run_all:
            # Idle is reported a moment before the notebook's session is fully wired; running right
            # away sometimes starts a second kernel (pitfall 2). The one sleep these tests allow.
            page.wait_for_timeout(3000)
            run_command(page, "notebook:run-all-cells")

    def shutdown_kernels(self) -> None:
        """End every session and kernel the server runs (a notebook page closing leaves its kernel up)."""
        for session in self.api("/api/sessions") or []:
            with contextlib.suppress(OSError):
                self.api(f"/api/sessions/{session['id']}", method="DELETE")
        for kernel in self.api("/api/kernels") or []:
            with contextlib.suppress(OSError):
                self.api(f"/api/kernels/{kernel['id']}", method="DELETE")


def wait_kernel_idle(page: Any, timeout_ms: int = FIRST_RENDER_MS) -> None:
    page.wait_for_function(_KERNEL_IDLE_JS, timeout=timeout_ms)


def run_command(page: Any, command: str) -> None:
    """Run a JupyterLab command without awaiting it: its promise can hang for minutes (pitfall 1)."""
    page.evaluate("(c) => { window.jupyterapp.commands.execute(c); }", command)


def run_cell(page: Any, index: int) -> None:
    """Run the notebook's cell ``index`` (fire and forget, as ``run_command``)."""
    page.evaluate("(i) => { const nb = window.jupyterapp.shell.currentWidget.content; nb.activeCellIndex = i;"
                  " window.jupyterapp.commands.execute('notebook:run-cell'); }", index)


@contextlib.contextmanager
def start_jupyter(app: str, base: Path, code: Path = ROOT) -> Iterator[JupyterServer]:
    """``jupyter lab`` or ``jupyter notebook`` on 127.0.0.1 with its own dirs under ``base``; its kernels
    import llmops_nb from ``code`` (another checkout, e.g. an older commit for docs' before pictures)."""
    root, config = base / "root", base / "config"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               IPYTHONDIR=str(base / "ipython"), LLMOPS_NB_DB=str(base / "default.duckdb"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(code), str(ROOT), os.environ.get("PYTHONPATH")])))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        env.pop(name, None)
    log = base / f"{app}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", app, "--no-browser", "--allow-root", "--expose-app-in-browser",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = JupyterServer(app, f"http://127.0.0.1:{port}", token, root, log, proc)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                server.api("/api/status")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter {app} did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.1)
        yield server
    finally:
        with contextlib.suppress(OSError, ValueError):
            server.shutdown_kernels()  # kernels live in sessions of their own: the group signal misses them
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """One JupyterLab server for the whole session."""
    _require_chromium()
    with start_jupyter("lab", tmp_path_factory.mktemp("jupyter_lab")) as server:
        yield server


@pytest.fixture(autouse=True)
def no_kernel_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, end the kernels its notebooks started: none outlives the test that needed it."""
    servers = [request.getfixturevalue(name) for name in ("jupyter_lab", "notebook7") if name in request.fixturenames]
    yield
    for server in servers:
        server.shutdown_kernels()
        assert server.api("/api/kernels") == [], "a kernel is still running after shutdown"


@pytest.fixture
def page_problems(page: Any) -> list[str]:
    """Page errors and dialogs seen on ``page`` (dialogs are dismissed); assert it is empty at the end."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return problems


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A Notebook 7 server (``jupyter notebook``), for the modules that need one."""
    _require_chromium()
    with start_jupyter("notebook", tmp_path_factory.mktemp("notebook7")) as server:
        yield server
