"""A team on one lake: notebooks/team.ipynb, and two notebooks plus the served app writing at once (issue 11).

Real kernels (nbclient, with scripts/run_notebooks.py's health check after the last cell), a real
PostgreSQL catalog (``postgres.py``), the real ``notebooks/team_app.py`` process answering over HTTP
with the offline model. Nothing is timed: every wait polls with a generous deadline.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from postgres import Cluster, Lake
from support import ROOT

import llmops_nb
from llmops_nb import prompts
from llmops_nb.replay._notebook import NotebookRunError, run_cells

NOTEBOOK = ROOT / "notebooks" / "team.ipynb"
APP = ROOT / "notebooks" / "team_app.py"
PROMPT = "support-answer"
CELL_TIMEOUT = 600  # seconds; a kernel shares two cores with another kernel, the app and its model


def _runner() -> Any:
    """scripts/run_notebooks.py as a module: its health check and what it removes from a kernel's environment."""
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUNNER = _runner()


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A kernel's or the app's environment: this checkout and the lake overlay importable from any working
    directory, no provider key (the offline model answers, as for a newcomer), side files under tmp_path."""
    env = {name: value for name, value in os.environ.items() if name not in RUNNER.PROVIDER_ENV}
    paths = [str(ROOT), *(str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env.update(extra)
    return env


def _with_health_check(nb: Any) -> Any:
    nb.cells.append(nbformat.v4.new_code_cell(RUNNER.HEALTH_CHECK, id=RUNNER.HEALTH_CHECK_ID))
    return nb


def _run(nb: Any, path: Path, env: dict[str, str]) -> None:
    """Run ``nb`` in a fresh kernel started in ``path``'s folder; ``NotebookRunError`` names a failing cell."""
    with tempfile.TemporaryDirectory(prefix="team-kernel-") as sockets:  # a unix socket's path is short
        run_cells(nb, path, Path(sockets), CELL_TIMEOUT, env=env)


def _stream_text(nb: Any) -> str:
    return "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for out in cell.get("outputs", []) if out.get("output_type") == "stream")


def _stop_app_started_by(nb: Any) -> None:
    """The notebook stops its app; if a cell failed before that, the app may still run: kill it by its pid."""
    for pid in {int(p) for p in re.findall(r"team_app: serving .* \(pid (\d+)\)", _stream_text(nb))}:
        with contextlib.suppress(OSError):
            if b"team_app.py" in Path(f"/proc/{pid}/cmdline").read_bytes():  # still ours, not a reused pid
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_team_notebook_runs_top_to_bottom_on_a_fresh_lake(postgres: Cluster, lake: Lake, tmp_path: Path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not RUNNER.has_outputs(nb), "strip it: python scripts/run_notebooks.py --strip notebooks/team.ipynb"
    assert nb.metadata["llmops_nb"]["needs"] == "lake"  # so scripts/run_notebooks.py leaves it to this test
    env = _environment(tmp_path, LLMOPS_NB_TEAM_CATALOG=postgres.conninfo(lake.dbname),
                       LLMOPS_NB_TEAM_DATA=lake.data_path)
    try:
        _run(_with_health_check(nb), NOTEBOOK, env)
    except NotebookRunError as exc:
        pytest.fail(f"notebooks/team.ipynb: {exc}")
    finally:
        _stop_app_started_by(nb)
    shown = _stream_text(nb)
    assert "team_app.py exited with 0" in shown
    assert "401 401" in shown  # no token, no answer

    # The lake as the notebook left it, read by this process: a colleague's view.
    served = llmops_nb.traces(tag="app=served", limit=None)
    assert len(served) == 5 and set(served.status) == {"OK"} and (served.llm_calls == 1).all()
    assert len(llmops_nb.traces(tag="app=served", prompt=f"{PROMPT}/1", limit=None)) == 3
    assert len(llmops_nb.traces(tag="app=served", prompt=f"{PROMPT}/2", limit=None)) == 2
    assert llmops_nb.traces(tag="source=notebook").name.tolist() == ["shoe-care"]
    assert prompts.load(PROMPT, alias="production").version == prompts.load(PROMPT, alias="live").version == 2
    live = prompts.alias_history(PROMPT, "live")
    assert live.to_version.tolist() == [1, 2] and set(live.author) == {"team_app"}
    runs = llmops_nb.eval_runs(limit=None)
    assert sorted(runs.name) == [f"smoke prompts:/{PROMPT}/1", f"smoke prompts:/{PROMPT}/2",
                                 f"team walkthrough: prompts:/{PROMPT}/2"]
    assert set(runs.status) == {"FINISHED"}


# --- two notebooks and the served app, at once ------------------------------------------------------

# Each cell is one step a teammate takes; {me} and {other} are "A" and "B".
TEAMMATE_CELLS = [
    """\
%load_ext llmops_nb
import json, os, pathlib, time
import httpx
import llmops_nb
from llmops_nb import prompts

llmops_nb.configure(db=os.environ["TEAM_LAKE"], data_path=os.environ["TEAM_DATA"])
llmops_nb.sql("SELECT 1")  # attached before the start, so the two race on their writes
barrier = pathlib.Path(os.environ["TEAM_BARRIER"])
(barrier / "{me}").touch()
deadline = time.monotonic() + 300
while len(list(barrier.iterdir())) < 2:  # both kernels up: from here on they write at once
    assert time.monotonic() < deadline, "the other kernel never started"
    time.sleep(0.01)""",
    """\
%%llm_trace --name notebook-{me} --tag team={me}
@llmops_nb.trace(kind="TOOL")
def order_status(order: int) -> str:
    return "shipped" if order % 2 else "packed"

print([order_status(order) for order in range(3)])""",
    """\
mine = prompts.register("support-answer", [
    {{"role": "system", "content": "You are support agent {me} of a shoe shop. Answer in one short sentence."}},
    {{"role": "user", "content": "{{{{question}}}}"}}], commit_message="by {me}", author="{me}")
prompts.set_alias("support-answer", "production", mine.version, author="{me}")""",
    """\
def short(outputs):
    return len(outputs) < 10

run = llmops_nb.evaluate([{{"inputs": {{"q": k}}, "outputs": "x" * k}} for k in range(3)], scorers=[short],
                         name="run-{me}", progress=False)""",
    """\
reply = httpx.post(os.environ["TEAM_APP_URL"] + "/answer", json={{"question": "Where is my order? ({me})"}},
                   headers={{"Authorization": "Bearer " + os.environ["TEAM_APP_TOKEN"]}}, timeout=300)
assert reply.status_code == 200, reply.text
llmops_nb.flush()""",
    """\
def version(alias):
    try:
        return prompts.load("support-answer", alias=alias).version
    except prompts.PromptNotFoundError:
        return None


deadline = time.monotonic() + 300
while True:  # until this kernel sees what the other kernel and the app wrote, and every alias move
    other = llmops_nb.traces(tag="team={other}", limit=None).name.tolist()
    served = llmops_nb.traces(tag="app=served", status="OK", limit=None).name.tolist()
    runs = sorted(llmops_nb.eval_runs(limit=None).name)
    movers = set(prompts.alias_history("support-answer", "production").author)
    seen = dict(me="{me}", other=other, served=served, runs=runs, movers=sorted(movers),
                production=version("production"), live=version("live"))
    if (other and len(served) >= 2 and {{"run-A", "run-B"}} <= set(runs) and any(r.startswith("smoke ") for r in runs)
            and {{"A", "B"}} <= movers and seen["live"] == seen["production"]):
        break
    assert time.monotonic() < deadline, f"{me} saw only {{seen}}"
    time.sleep(0.2)
print("SEEN " + json.dumps(seen))""",
]


def _teammate(me: str, other: str) -> Any:
    cells = [nbformat.v4.new_code_cell(textwrap.dedent(source).format(me=me, other=other))
             for source in TEAMMATE_CELLS]
    return _with_health_check(nbformat.v4.new_notebook(cells=cells))


def _seen(nb: Any) -> dict[str, Any]:
    lines = [line for line in _stream_text(nb).splitlines() if line.startswith("SEEN ")]
    assert len(lines) == 1, _stream_text(nb)
    return json.loads(lines[0][len("SEEN "):])


@contextlib.contextmanager
def _served_app(env: dict[str, str], log: Path) -> Iterator[str]:
    """notebooks/team_app.py running on the lake; its base URL. Stopped (killed if need be) after the block."""
    with log.open("w") as err:
        app = subprocess.Popen([sys.executable, str(APP), "--exit-with-parent"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=err, env=env)
    try:
        assert app.stdout is not None and app.stdin is not None
        line = b""
        with selectors.DefaultSelector() as selector:
            selector.register(app.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n") and selector.select(timeout=120):
                chunk = os.read(app.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
        found = re.search(rb"http://127\.0\.0\.1:\d+", line)
        assert found, f"team_app.py did not report where it serves ({line!r}):\n{log.read_text()}"
        yield found.group().decode()
        app.stdin.close()  # --exit-with-parent: end-of-file stops it, as when its kernel ends
        assert app.wait(timeout=120) == 0, log.read_text()
    finally:
        if app.poll() is None:
            app.kill()
        app.wait()
        for pipe in (app.stdin, app.stdout):
            if pipe is not None:
                pipe.close()


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_two_notebooks_and_the_served_app_write_at_once_and_each_sees_the_others(
        postgres: Cluster, lake: Lake, tmp_path: Path):
    token = "team-token-" + os.urandom(12).hex()
    app_env = _environment(tmp_path, LLMOPS_NB_DB=lake.url, LLMOPS_NB_DATA_PATH=lake.data_path,
                           TEAM_APP_TOKEN=token)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    with _served_app(app_env, tmp_path / "team_app.log") as url, httpx.Client(base_url=url, timeout=300) as http:
        auth = {"Authorization": f"Bearer {token}"}
        # Every route refuses a request without the token, or with another one.
        for method, route in (("GET", "/status"), ("GET", "/lake"), ("POST", "/answer"), ("GET", "/nowhere")):
            assert http.request(method, route, json={"question": "hi"}).status_code == 401
            assert http.request(method, route, json={"question": "hi"},
                                headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.get("/status", headers=auth).json()["production"] is None  # nothing promoted yet
        assert http.post("/answer", json={"question": "hi"}, headers=auth).status_code == 503  # a trace with its error

        kernel_env = {"TEAM_LAKE": lake.url, "TEAM_DATA": lake.data_path, "TEAM_BARRIER": str(barrier),
                      "TEAM_APP_URL": url, "TEAM_APP_TOKEN": token}
        notebooks = {me: _teammate(me, other) for me, other in (("A", "B"), ("B", "A"))}
        with ThreadPoolExecutor(2) as pool:  # two kernels at once, each asking the app while the other writes
            running = {me: pool.submit(_run, nb, tmp_path / f"{me}.ipynb", _environment(tmp_path, **kernel_env))
                       for me, nb in notebooks.items()}
            failures = {me: future.exception() for me, future in running.items()}
        for me, nb in notebooks.items():
            nbformat.write(nb, tmp_path / f"{me}.ipynb")  # executed, to read when this fails
        assert not any(failures.values()), f"{failures}\napp log:\n{(tmp_path / 'team_app.log').read_text()}"

        # The moves as the lake recorded them, in order: production by A and B, live by the app.
        production = prompts.alias_history(PROMPT, "production")
        assert sorted(production.author) == ["A", "B"]
        assert production.from_version.tolist()[1:] == production.to_version.tolist()[:-1]
        final = int(production.to_version.iloc[-1])
        live = prompts.alias_history(PROMPT, "live")
        assert set(live.author) == {"team_app"} and int(live.to_version.iloc[-1]) == final

        # Each kernel saw the other's traces and run, the app's traces and smoke run, the aliases as moved last.
        for me, other in (("A", "B"), ("B", "A")):
            seen = _seen(notebooks[me])
            assert seen["other"] == [f"notebook-{other}"]
            assert seen["served"] == ["served-answer", "served-answer"]
            assert {"run-A", "run-B"} <= set(seen["runs"]) and any(r.startswith("smoke ") for r in seen["runs"])
            assert (seen["production"], seen["live"]) == (final, final)

        # And the app saw both kernels' traces and runs, and the aliases as moved last.
        status = http.get("/status", headers=auth).json()
        assert (status["production"], status["live"]) == (final, final)
        assert status["smoke_checks"][str(final)] is True
        for me in "AB":
            traces = http.get("/lake", params={"tag": f"team={me}"}, headers=auth).json()["traces"]
            assert [t["name"] for t in traces] == [f"notebook-{me}"]
        runs = {run["name"] for run in http.get("/lake", headers=auth).json()["eval_runs"]}
        assert {"run-A", "run-B", f"smoke prompts:/{PROMPT}/{final}"} <= runs

        # A real answer, with the token: the version moved last, and its trace in the lake at once.
        reply = http.post("/answer", json={"question": "Can I return shoes?"}, headers=auth)
        assert reply.status_code == 200, reply.text
        assert reply.json()["prompt"] == f"prompts:/{PROMPT}/{final}" and reply.json()["answer"]
        assert llmops_nb.traces(tag="app=served", prompt=f"{PROMPT}/{final}").trace_id.tolist()[0] \
            == reply.json()["trace_id"]
