"""Where an eval table's rows come from, decided once per table: a run stored in this store, or a DataFrame.

* **A stored run** — ``evaluate()`` stores every run, so its DataFrame's ``attrs["run_id"]`` is found in
  the store's ``eval_runs`` — is read from DuckDB (``_sql``). A DataFrame sliced from a stored result
  (``df[df["correctness/value"] == False]`` keeps its ``attrs``) shows only its own rows, matched by
  index and trace id.
* **Any other DataFrame** with ``evaluate()``'s columns (a run kept in another store file, a frame whose
  index no longer matches its run, your own results with ``<scorer>/value`` columns) is converted once
  to an Arrow table of the same columns (pass/fail decided per value by the scorer's rule, as when an
  assessment is stored) and queried by the same SQL, so both kinds sort, filter and page alike.

A run over conversations (``evaluate()`` with ``turns``/``goal`` rows: ``eval_runs.params`` has
``conversations: true``, a frame has ``attrs["kind"] == "conversations"``) has one row per conversation;
its side names the columns it adds (``CONVERSATION_COLUMNS``: the conversation's ``session``, read from
the stored ``outputs``, and its number of ``turns``), which the table lists and a row opens.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from ...evals._scorer import verdict
from ...evals._util import from_json, is_missing, to_json
from ...store._connection import get_store
from ._format import integer, iso, number

_TABLES = itertools.count()
#: the columns a run over conversations adds to the table, in the order it lists them
CONVERSATION_COLUMNS = ("session", "turns")


@dataclass
class Side:
    """One run as the table reads it: stored in this store (``run_id``), or a DataFrame (``frame``)."""

    key: str  # the run id, or "frame:N" for a DataFrame that is not a stored run
    name: str
    scorers: list[dict[str, Any]]
    run_id: str | None = None  # set when the rows are read from the store
    status: str | None = None
    started_at: str | None = None
    dataset: dict[str, Any] | None = None
    rows: list[int] | None = None  # a stored run seen through a slice of its DataFrame: only these rows
    frame: Any = None  # the DataFrame, when the rows come from it
    table: Any = None  # its Arrow table (built once)
    labels: list[Any] = field(default_factory=list)  # frame index label of each position
    frame_run_id: str | None = None  # attrs["run_id"] of a frame not in this store
    columns: tuple[str, ...] = ()  # of CONVERSATION_COLUMNS, those this side has: a run over conversations

    @property
    def stored(self) -> bool:
        return self.run_id is not None

    @property
    def conversations(self) -> bool:
        """Whether a row is a conversation (its ``session`` opens the transcript)."""
        return "session" in self.columns

    def facts(self) -> dict[str, Any]:
        return {"key": self.key, "run_id": self.run_id or self.frame_run_id, "name": self.name,
                "status": self.status, "started_at": self.started_at, "dataset": self.dataset,
                "stored": self.stored, "scorers": [s["name"] for s in self.scorers],
                "conversations": self.conversations}


def is_eval_frame(obj: Any) -> bool:
    """Whether ``obj`` looks like what ``evaluate()`` or ``compare_runs()`` returns (a DataFrame with a
    run id in ``attrs``, or ``<scorer>/value`` columns)."""
    if not (hasattr(obj, "columns") and hasattr(obj, "attrs")):
        return False
    attrs = getattr(obj, "attrs", {}) or {}
    if attrs.get("run_id") or (attrs.get("baseline") and attrs.get("candidate")):
        return True
    return any(str(c).endswith("/value") for c in obj.columns)


def side_of(results: Any, key: str | None = None) -> Side:
    """The :class:`Side` for a run id, an ``evaluate()`` DataFrame, or any frame of its columns."""
    if isinstance(results, str):
        return stored_side(check_run_id(results))
    if not (hasattr(results, "columns") and hasattr(results, "index")):
        raise TypeError(f"EvalTable shows an evaluate() DataFrame or a run id; got {type(results).__name__}.")
    run_id = (results.attrs or {}).get("run_id")
    if isinstance(run_id, str) and run_id:
        stored = stored_rows(run_id)
        if stored is not None:
            rows = _matching_rows(results, stored)
            if rows is not None:
                side = stored_side(run_id)
                side.rows = None if len(rows) == len(stored) else rows
                return side
    return _frame_side(results, key or f"frame:{next(_TABLES)}")


def check_run_id(run_id: str) -> str:
    value = run_id.strip().lower()
    if len(value) != 32 or not set(value) <= set("0123456789abcdef"):
        raise ValueError(f"Expected a run id of 32 hex characters, got {run_id!r}; see llmops_nb.eval_runs().run_id.")
    return value


def stored_rows(run_id: str) -> dict[int, str | None] | None:
    with get_store().connect() as con:
        if con.execute("SELECT count(*) FROM eval_runs WHERE run_id = ?", [run_id]).fetchone()[0] == 0:
            return None
        found = con.execute("SELECT row_index, trace_id FROM eval_results WHERE run_id = ?", [run_id]).fetchall()
    return {int(r): t for r, t in found}


def _matching_rows(frame: Any, stored: dict[int, str | None]) -> list[int] | None:
    """The stored rows a DataFrame shows, or None when its index or trace ids do not match the run."""
    rows = []
    traces = list(frame["trace_id"]) if "trace_id" in frame.columns else [None] * len(frame)
    for label, trace_id in zip(frame.index, traces, strict=True):
        if isinstance(label, bool) or (not isinstance(label, int) and not hasattr(label, "__index__")):
            return None
        index = int(label)
        if index not in stored or (trace_id is not None and not is_missing(trace_id) and stored[index] != trace_id):
            return None
        rows.append(index)
    return rows if len(set(rows)) == len(rows) else None


def stored_side(run_id: str) -> Side:
    with get_store().connect() as con:
        found = con.execute("SELECT name, status, started_at, scorers, dataset_name, dataset_version, "
                            "json_extract_string(params, '$.conversations') = 'true' FROM eval_runs "
                            "WHERE run_id = ?", [run_id]).fetchone()
    if found is None:
        raise LookupError(f"No evaluation run {run_id!r} in the store ({get_store().path}); "
                          "see llmops_nb.eval_runs().run_id.")
    name, status, started, scorers, dataset_name, dataset_version, conversations = found
    return Side(key=run_id, run_id=run_id, name=str(name), status=status, started_at=iso(started),
                scorers=scorer_list(from_json(scorers)),
                dataset={"name": dataset_name, "version": dataset_version} if dataset_name else None,
                columns=CONVERSATION_COLUMNS if conversations else ())


def scorer_list(described: Any, names: list[str] | None = None) -> list[dict[str, Any]]:
    """Scorer facts (name, source, model, threshold, lower_is_better; ``per_turn`` for a conversation's
    per-turn aggregate) in order, one per name."""
    out: dict[str, dict[str, Any]] = {}
    for item in described if isinstance(described, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            threshold = item.get("threshold")
            try:
                threshold = float(threshold) if threshold is not None else None
            except (TypeError, ValueError):
                threshold = None
            if threshold is not None and not math.isfinite(threshold):
                threshold = None
            facts = {"name": item["name"], "source": str(item.get("source") or "CODE"), "model": item.get("model"),
                     "threshold": threshold, "lower_is_better": bool(item.get("lower_is_better"))}
            if item.get("per_turn"):
                facts["per_turn"] = True  # the mean over a conversation's turns (their verdicts are the turns')
            out.setdefault(item["name"], facts)
    for name in names or []:
        out.setdefault(name, {"name": name, "source": "CODE", "model": None, "threshold": None,
                              "lower_is_better": False})
    if names is not None:
        return [out[n] for n in names]
    return list(out.values())


def _frame_side(frame: Any, key: str) -> Side:
    import pyarrow as pa

    names = [str(c)[:-6] for c in frame.columns if str(c).endswith("/value")]
    if not names and "outputs" not in frame.columns:
        raise ValueError("This DataFrame has neither an outputs column nor <scorer>/value columns: pass what "
                         "llmops_nb.evaluate() returned (or its run id).")
    attrs = frame.attrs or {}
    scorers = scorer_list(attrs.get("scorers"), names)
    n = len(frame)

    def column(name: str) -> list[Any]:
        return list(frame[name]) if name in frame.columns else [None] * n

    def text(values: list[Any]) -> list[str | None]:
        return [None if is_missing(v) else str(v) for v in values]

    columns: dict[str, Any] = {
        "row_index": pa.array(range(n), pa.int64()),
        "record_id": pa.array(text(column("record_id")), pa.string()),
        "trace_id": pa.array(text(column("trace_id")), pa.string()),
        "inputs": pa.array([_json_text(v) for v in column("inputs")], pa.string()),
        "outputs": pa.array([_json_text(v) for v in column("outputs")], pa.string()),
        "expectations": pa.array([_json_text(v) for v in column("expectations")], pa.string()),
        "latency_ms": pa.array([number(v) for v in column("latency_ms")], pa.float64()),
        "input_tokens": pa.array([integer(v) for v in column("input_tokens")], pa.int64()),
        "output_tokens": pa.array([integer(v) for v in column("output_tokens")], pa.int64()),
        "cost_usd": pa.array([number(v) for v in column("cost_usd")], pa.float64()),
        "error": pa.array(text(column("error")), pa.string()),
    }
    for i, scorer in enumerate(scorers):
        values = column(f"{scorer['name']}/value")
        columns[f"s{i}_v"] = pa.array([_json_text(v) for v in values], pa.string())
        columns[f"s{i}_n"] = pa.array([_value_number(v) for v in values], pa.float64())
        columns[f"s{i}_p"] = pa.array([verdict(_plain(v), scorer["threshold"], scorer["lower_is_better"])
                                       for v in values], pa.bool_())
        columns[f"s{i}_r"] = pa.array(text(column(f"{scorer['name']}/rationale")), pa.string())
        columns[f"s{i}_e"] = pa.array(text(column(f"{scorer['name']}/error")), pa.string())
        columns[f"s{i}_span"] = pa.array([None] * n, pa.string())
    extra = _conversation_columns(frame)
    if "session" in extra:
        columns["session"] = pa.array(text(column("session")), pa.string())
    if "turns" in extra:
        columns["turns"] = pa.array([integer(v) for v in column("turns")], pa.int64())
    run_id = attrs.get("run_id") if isinstance(attrs.get("run_id"), str) else None
    dataset = attrs.get("dataset") if isinstance(attrs.get("dataset"), dict) else None
    return Side(key=key, name=str(attrs.get("name") or "evaluation"), scorers=scorers,
                status=attrs.get("status") if isinstance(attrs.get("status"), str) else None, dataset=dataset,
                frame=frame, table=pa.table(columns), labels=list(frame.index), frame_run_id=run_id, columns=extra)


def _conversation_columns(frame: Any) -> tuple[str, ...]:
    """The conversation columns a frame has, when it is a run over conversations (its attrs say so, or it
    has both ``session`` and ``turns``): an ordinary frame's own ``session`` column is not a conversation."""
    have = [c for c in CONVERSATION_COLUMNS if c in frame.columns]
    kind = (frame.attrs or {}).get("kind")
    if "session" in have and (kind == "conversations" or len(have) == len(CONVERSATION_COLUMNS)):
        return tuple(have)
    return ()


def _json_text(value: Any) -> str | None:
    value = _plain(value)
    return None if value is None else to_json(value)


def _plain(value: Any) -> Any:
    """A cell as a plain Python value: numpy scalars unwrapped, NaN/NA/NaT as None."""
    if value is None or is_missing(value):
        return None
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (list, dict, str)):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


def _value_number(value: Any) -> float | None:
    value = _plain(value)
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return number(value)
    return None
