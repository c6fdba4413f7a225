"""A conversation run's results: the columns a conversation adds to ``evaluate()``'s frame, the per-turn
scores stored on the turns' traces, and the per-turn summary — the same live and read back from the store.

The frame is ``evaluate()``'s (``inputs`` = the conversation's spec, ``outputs`` = ``{"messages",
"session", "turns", "stop_reason", "stop_detail", "trace_ids", "simulator_trace_id"}``,
``<scorer>/value|rationale|error``), its ``trace_id`` the first turn's trace, plus ``session`` (after
``trace_id``: open it with ``llmops_nb.agents.session(id)``) and, after ``error``, ``turns``,
``stop_reason`` (``script_end``, ``goal_met``, ``max_turns``, ``error``, ``simulator_error``),
``goal``, ``persona`` and ``transcript`` (a one-line preview). Everything is derived from the stored
``inputs``/``outputs``, so ``eval_results(run_id)`` rebuilds it exactly. ``df.attrs["kind"]`` is
``"conversations"``; ``df.attrs["turn_summary"]`` has per per-turn scorer, over every turn of the run,
``mean``, ``pass_rate``, ``count``, ``errors``.
"""

from __future__ import annotations

from typing import Any

from ..store._connection import get_store
from ._conversation_engine import ConversationRow
from ._conversation_scorers import TurnScorer, turn_summary
from ._run_store import _ASSESSMENT_TYPES, as_number
from ._scorer import Scorer
from ._util import from_json, insert_rows, new_id, object_series, to_json, utc_now

AFTER_ERROR = ("turns", "stop_reason", "goal", "persona", "transcript")
_PREVIEW = 300


def save_turn_scores(run_id: str, rows: list[ConversationRow], scorers: list[Scorer]) -> None:
    """Every per-turn score as an assessment of its turn's trace (``row_index`` NULL: it is a turn's)."""
    columns: dict[str, list[Any]] = {k: [] for k in (
        "assessment_id", "trace_id", "name", "source_type", "source_id", "value", "value_number", "passed",
        "rationale", "error", "run_id", "row_index", "span_id", "created_at")}
    now = utc_now()
    for row in rows:
        for scorer in scorers:
            if not isinstance(scorer, TurnScorer):
                continue
            inner = scorer.inner
            for turn in row.turns:
                found = turn.scores.get(inner.name)
                if found is None:
                    continue
                score, span_id = found
                for column, cell in (("assessment_id", new_id()), ("trace_id", turn.trace_id), ("name", inner.name),
                                     ("source_type", inner.source), ("source_id", inner.model_uri or inner.name),
                                     ("value", to_json(score.value)), ("value_number", as_number(score.value)),
                                     ("passed", inner.passes(score.value)), ("rationale", score.rationale),
                                     ("error", score.error), ("run_id", run_id), ("row_index", None),
                                     ("span_id", span_id), ("created_at", now)):
                    columns[column].append(cell)
    if not columns["assessment_id"]:
        return
    with get_store().connect() as con:
        insert_rows(con, "assessments", columns, _ASSESSMENT_TYPES)


def live_turn_summary(rows: list[ConversationRow], scorers: list[Scorer]) -> dict[str, dict[str, Any]]:
    entries: dict[str, list[tuple[Any, bool | None, Any]]] = {}
    for scorer in scorers:
        if isinstance(scorer, TurnScorer):
            inner = scorer.inner
            entries[inner.name] = [(s.value, inner.passes(s.value), s.error) for row in rows for turn in row.turns
                                   for s, _ in [turn.scores[inner.name]] if inner.name in turn.scores]
    return turn_summary(entries)


def stored_turn_summary(run_id: str, described: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    names = [s["name"] for s in described if s.get("per_turn")]
    if not names:
        return {}
    with get_store().connect() as con:
        found = con.execute("SELECT name, value, passed, error FROM assessments WHERE run_id = ? AND row_index IS "
                            "NULL AND name IN (SELECT unnest(?::VARCHAR[])) ORDER BY created_at, assessment_id",
                            [run_id, names]).fetchall()
    entries: dict[str, list[tuple[Any, bool | None, Any]]] = {name: [] for name in names}
    for name, value, passed, error in found:
        entries[name].append((from_json(value), passed, error))
    return turn_summary(entries)


def add_columns(frame: Any, turn_scores: dict[str, dict[str, Any]]) -> Any:
    """``frame`` with the conversation columns (see the module doc) and attrs."""
    import pandas as pd

    specs = [i if isinstance(i, dict) else {} for i in frame["inputs"]]
    outputs = [o if isinstance(o, dict) else {} for o in frame["outputs"]]
    index = frame.index
    frame.insert(list(frame.columns).index("trace_id") + 1, "session",
                 object_series([o.get("session") for o in outputs], index))
    at = list(frame.columns).index("error") + 1
    values = {
        "turns": pd.array([o.get("turns") for o in outputs], dtype="Int64"),
        "stop_reason": object_series([o.get("stop_reason") for o in outputs], index),
        "goal": object_series([s.get("goal") for s in specs], index),
        "persona": object_series([s.get("persona") for s in specs], index),
        "transcript": object_series([transcript_preview(o.get("messages")) for o in outputs], index),
    }
    for offset, name in enumerate(AFTER_ERROR):
        frame.insert(at + offset, name, values[name])
    frame.attrs.update({"kind": "conversations", "turn_summary": turn_scores})
    return frame


def transcript_preview(messages: Any, limit: int = _PREVIEW) -> str | None:
    """``user: … | assistant: … | …`` on one line, cut at ``limit`` characters."""
    if not isinstance(messages, list) or not messages:
        return None
    parts = [f"{m.get('role')}: {' '.join(str(m.get('content')).split())}" for m in messages if isinstance(m, dict)]
    text = " | ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reread(frame: Any, params: Any) -> Any:
    """For ``eval_results()``: a stored run over conversations gets its columns back (others are unchanged)."""
    if not (from_json(params) or {}).get("conversations"):
        return frame
    return add_columns(frame, stored_turn_summary(frame.attrs["run_id"], frame.attrs.get("scorers") or []))
