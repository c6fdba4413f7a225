"""Import time: each sample is a fresh interpreter timing one statement with ``time.perf_counter``.

Interpreter start-up is not counted, only the statement. Cases alternate in
rounds (order rotated), so the OS file cache and background load affect all
alike.

- ``import llmops_nb`` — and which heavy modules it pulled in (it should pull none).
- ``%load_ext llmops_nb`` in an ``IPython.core.interactiveshell.InteractiveShell``
  that already exists (as in a running kernel): the import plus registering the magics.
- ``import mlflow`` and ``import opentelemetry.sdk.trace`` for comparison.
- For information: the first ``llmops_nb.traces()`` in a fresh process on an
  empty store (imports DuckDB and pandas, creates the file and its schema).
"""

from __future__ import annotations

import json
from typing import Any

from ._harness import base_env, median, rotated, run_python
from ._report import Context, Section, Target, num, table

_HEAVY = ("duckdb", "pandas", "pyarrow", "IPython", "numpy", "anywidget")
_TIMED = """
import json, sys, time
{setup}
start = time.perf_counter()
{statement}
elapsed = time.perf_counter() - start
{check}
print(json.dumps({{"s": elapsed, "heavy": sorted(m for m in {heavy!r} if m in sys.modules)}}))
"""

CASES: dict[str, dict[str, str]] = {
    "import llmops_nb": {"setup": "", "statement": "import llmops_nb", "check": ""},
    "%load_ext llmops_nb": {
        "setup": "from IPython.core.interactiveshell import InteractiveShell\nshell = InteractiveShell.instance()",
        "statement": "shell.run_line_magic('load_ext', 'llmops_nb')",
        "check": "assert 'llm_trace' in shell.magics_manager.magics['cell'], 'magics not registered'",
    },
    "import mlflow": {"setup": "", "statement": "import mlflow", "check": ""},
    "import opentelemetry.sdk.trace": {"setup": "", "statement": "import opentelemetry.sdk.trace", "check": ""},
    "first llmops_nb.traces() (empty store)": {
        "setup": "import llmops_nb, os, tempfile\n"
                 "llmops_nb.configure(db=os.path.join(tempfile.mkdtemp(), 'first.duckdb'))",
        "statement": "frame = llmops_nb.traces()",
        "check": "assert len(frame) == 0",
    },
}
TARGETED = ("import llmops_nb", "%load_ext llmops_nb")


def _code(case: dict[str, str]) -> str:
    return _TIMED.format(heavy=_HEAVY, **case)


def run(ctx: Context) -> Section:
    rounds = ctx.pick_rounds(full=7, quick=3)
    env = base_env(ctx.workdir)
    names = list(CASES)
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for index in range(rounds):
        for name in rotated(names, index):
            samples[name].append(json.loads(run_python(_code(CASES[name]), env, ctx.workdir).strip().splitlines()[-1]))
        ctx.log(f"imports: round {index + 1}/{rounds}: " + ", ".join(
            f"{name} {samples[name][-1]['s'] * 1000:.0f} ms" for name in names))
    return _section(samples, rounds)


def _section(samples: dict[str, list[dict[str, Any]]], rounds: int) -> Section:
    ours = median(s["s"] for s in samples["import llmops_nb"])
    rows = []
    for name, runs in samples.items():
        ms = [s["s"] * 1000 for s in runs]
        heavy = sorted({m for s in runs for m in s["heavy"]})
        rows.append([f"`{name}`", num(median(ms)), num(min(ms)), num(max(ms)), num(median(ms) / (ours * 1000)) + "×",
                     ", ".join(heavy) or "none"])
    body = table(["Statement (fresh process)", "median (ms)", "min (ms)", "max (ms)", "vs `import llmops_nb`",
                  "heavy modules loaded afterwards"], rows)
    body += (f"\n\n{rounds} fresh interpreters per statement. \"Heavy modules\" lists which of "
             f"{', '.join(_HEAVY)} were in `sys.modules` after the statement (the IPython case had IPython loaded "
             "before timing).")
    targets = []
    for name in TARGETED:
        value = median(s["s"] for s in samples[name]) * 1000
        heavy = sorted({m for s in samples[name] for m in s["heavy"]} - ({"IPython"} if "load_ext" in name else set()))
        targets.append(Target(f"`{name}`", "≤ 150 ms", f"{num(value)} ms" + (f" (loads {', '.join(heavy)})"
                                                                           if heavy else ""), value <= 150))
    mlflow = median(s["s"] for s in samples["import mlflow"]) * 1000
    otel = median(s["s"] for s in samples["import opentelemetry.sdk.trace"]) * 1000
    targets.append(Target("Import vs peers", "reported", f"mlflow {num(mlflow)} ms, opentelemetry.sdk.trace "
                          f"{num(otel)} ms", None))
    return Section("5. Import time", body, targets, samples)
