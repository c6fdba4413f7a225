"""``evaluate()`` over conversations already in the store: sessions scored without running the agent again.

>>> import llmops_nb
>>> from llmops_nb import scorers
>>> df = llmops_nb.evaluate(llmops_nb.sessions(since="2026-12-01"),  # or [{"session": "conv-1"}, ...]
...                         scorers=[scorers.goal_completion(), scorers.relevance_to_query()])  # doctest: +SKIP

MLflow 3 calls this evaluating pre-generated conversations (traces grouped by session, session-level
judges over them). Which data it is (:func:`stored_rows`): a DataFrame with a ``session`` column and
neither ``trace_id`` nor ``inputs`` — ``llmops_nb.sessions()``, its summary columns left aside — or a
list whose rows are dicts with ``session`` and neither ``trace_id`` nor ``inputs``, e.g.
``[{"session": "conv-1", "expectations": {"goal": "..."}}]`` (a row holds ``session``, optionally
``expectations`` for the judges and ``record_id``), or the result of an earlier run over conversations
(``df.attrs["kind"] == "conversations"``: its sessions judged again, its ``record_id`` kept so that
``compare_runs()`` pairs the rows). A ``traces()`` DataFrame has a ``session`` column too, but also
``trace_id``: its rows stay traces, each scored on its own. ``predict_fn`` must be None (the turns are
stored; the error names the way to run the agent again) and so must ``simulator``.

Each row is one session, read before the run starts (an unknown id fails it, naming
``llmops_nb.sessions()``; ``_conversation_stored_read``): its turns in order, the user's and the
assistant's words as ``agents.session()`` gives them, each turn's trace the turn's own. Then it is scored
like a conversation that just ran (``_conversation_engine``): conversation-level judges once on the whole
transcript, their EVALUATOR spans and assessments on the first turn's trace (the row's ``trace_id``);
every other scorer on each turn, on that turn's trace. The result has the running path's shape
(``_conversation_results``) with ``stop_reason`` ``"stored"``; ``outputs["stop_detail"]`` names what the
row leaves out (turns not finished when it was read) and turns whose trace ended in ERROR (still in the
transcript and scored). ``latency_ms``, tokens and cost are the turns' own, as for a run. The run's
params have ``conversations`` (so ``eval_results()`` and the EvalTable read it like any run over
conversations) and ``stored``.
"""

from __future__ import annotations

from typing import Any

from .._errors import did_you_mean
from ._conversation import Conversations
from ._conversation_data import _absent
from ._conversation_engine import ConversationEngine, ConversationRow, Turn
from ._conversation_scorers import TurnScorer, is_conversation_level
from ._conversation_stored_read import StoredSession, read_sessions
from ._engine import Row, SourceRoot
from ._records import Record, _cell, assign_record_ids
from ._scorer import Scorer, check_scorers
from ._trace_view import RowTrace

KEYS = ("session", "expectations", "record_id")
STOP_REASON = "stored"
_EXAMPLE = "llmops_nb.sessions() or [{'session': 'conv-1', 'expectations': {'goal': '...'}}]"


def stored_rows(data: Any) -> list[Any] | None:
    """The rows of ``data`` when it names stored conversations (see the module doc), else None."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        columns = [str(c) for c in data.columns]
        if "session" not in columns:
            return None
        if data.attrs.get("kind") == "conversations":  # a run over conversations: its sessions, judged again
            kept = [c for c in KEYS if c in columns]
        elif {"trace_id", "inputs"} & set(columns):
            return None
        else:
            from ..agents._sessions import SESSION_COLUMNS

            # a sessions() frame's other columns summarize the session (and its scores): not data for the judges
            kept = [c for c in columns if c == "session" or not (c in SESSION_COLUMNS or
                                                                  c.endswith(("/mean", "/pass_rate")))]
        return [{k: v for k, v in row.items() if not _absent(v)} for row in data[kept].to_dict("records")]
    if isinstance(data, (list, tuple)) and any(
            isinstance(r, dict) and "session" in r and not {"trace_id", "inputs"} & set(r) for r in data):
        return list(data)
    return None


class StoredConversations(Conversations):
    """The plan of a run over stored conversations (``_evaluate._Run`` takes it as for conversations that
    run): rows read from the store, an engine that scores without running; usage, storage and columns are
    :class:`~._conversation.Conversations`' own."""

    def __init__(self, rows: list[Any], predict_fn: Any, scorers: Any, *, simulator: Any) -> None:
        if predict_fn is not None:
            raise ValueError("These conversations are already in the store, so evaluate() scores them as they are: "
                             "drop predict_fn. To run the agent again on the same user messages, give rows with "
                             "'turns' instead, e.g. [{'turns': llmops_nb.agents.session(id).user.tolist()}].")
        if simulator is not None:
            raise ValueError("simulator= plays the user of conversations that run, but these are already in the "
                             "store: drop simulator=, or give rows with a 'goal' to simulate new conversations.")
        self.scorers: list[Scorer] = [s if is_conversation_level(s) else TurnScorer(s) for s in check_scorers(scorers)]
        records = load_stored(rows)
        read = read_sessions([r.inputs["session"] for r in records])
        self.simulator = None  # no agent either: engine() runs none
        self.rows = [_row(index, record, read[record.inputs["session"]]) for index, record in enumerate(records)]

    def params(self) -> dict[str, Any]:
        return {"conversations": True, "simulator": None, "stored": True}

    def engine(self, run_id: str, name: str, *, max_concurrency: int, loop: Any) -> ConversationEngine:
        return StoredConversationEngine(run_id, name, self.rows, agent=None, agent_async=False, scorers=self.scorers,
                                        simulator=None, max_concurrency=max_concurrency, loop=loop)


class StoredConversationEngine(ConversationEngine):
    """Scores conversations read from the store: nothing to run, every row's turns are there."""

    def _run_row(self, row: Row) -> None:
        if isinstance(row, ConversationRow) and not row.turns:
            self._finish(row)  # no finished turn to score: the row's error says why
            return
        super()._run_row(row)

    def _trace_row(self, row: Row) -> None:
        raise AssertionError("a stored conversation is read before the run, never run")  # _run_row skips it


def load_stored(rows: list[Any]) -> list[Record]:
    """Check every row (errors name the row and the fix) and make it a Record with ``inputs = {"session": id}``."""
    if not rows:
        raise ValueError(f"The data names no stored conversation; give {_EXAMPLE}.")
    records: list[Record] = []
    seen: dict[str, int] = {}
    for position, row in enumerate(rows):
        where = f"Conversation {position}"
        if not isinstance(row, dict):
            raise TypeError(f"{where} is a {type(row).__name__}, not a dict: name each stored conversation as "
                            "{'session': 'conv-1'}.")
        if "trace_id" in row or "inputs" in row:
            raise ValueError(f"{where} has {sorted(row)} among stored conversations: each names a session, "
                             f"{_EXAMPLE}. Evaluate traces or rows of inputs in another call.")
        if "session" not in row:
            raise ValueError(f"{where} has no 'session' (it has {sorted(row)}): a stored conversation names its "
                             f"session, {_EXAMPLE}; rows with 'turns' or 'goal' run the agent, in another call.")
        unknown = [k for k in row if k not in KEYS]
        if unknown:
            raise ValueError(f"{where} has {unknown}: a stored conversation holds {', '.join(KEYS)} (its turns are "
                             "read from the store; rows with 'turns' or 'goal' run the agent, in another call)."
                             f"{did_you_mean(unknown[0], KEYS)}")
        session = row["session"]
        session = session.item() if hasattr(session, "item") else session
        if not isinstance(session, str) or not session:
            raise TypeError(f"{where}'s session is {session!r}; give a session id (a string) from "
                            "llmops_nb.sessions().session.")
        if session in seen:
            raise ValueError(f"Session {session!r} is named twice (conversations {seen[session]} and {position}): "
                             "name each session once.")
        seen[session] = position
        expectations = _cell(row.get("expectations"))
        record_id = row.get("record_id")
        records.append(Record(inputs={"session": session}, expectations=expectations,
                              record_id=str(record_id) if record_id is not None else ""))
    assign_record_ids(records)
    return records


def _row(index: int, record: Record, read: StoredSession) -> ConversationRow:
    """The conversation as if it had just run: turns, transcript, outputs, and the first turn as the row's trace."""
    session = record.inputs["session"]
    row = ConversationRow(index, record, session=session, stop_reason=STOP_REASON)
    messages: list[dict[str, Any]] = []
    for number, stored in enumerate(read.turns, 1):
        turn = Turn(number, stored.user, stored.trace_id, stored.span_id, reply=stored.assistant,
                    latency_ms=stored.duration_ms or 0.0)
        turn.trace = RowTrace(stored.trace_id)
        row.turns.append(turn)
        messages += [{"role": "user", "content": stored.user}, {"role": "assistant", "content": stored.assistant}]
    row.stop_detail = _detail(read)
    if row.turns:
        first = row.turns[0]
        row.trace_id, row.parent = first.trace_id, SourceRoot(first.trace_id, first.span_id)
        durations = [t.duration_ms for t in read.turns if t.duration_ms is not None]
        row.latency_ms = sum(durations) if durations else None
    else:
        row.error = (f"no turn of session {session!r} has finished yet ({len(read.unfinished)} not finished: "
                     f"{', '.join(read.unfinished[:3])}): evaluate it again once a turn has ended.")
    row.outputs = {"messages": messages, "session": session, "turns": len(row.turns), "stop_reason": STOP_REASON,
                   "stop_detail": row.stop_detail, "trace_ids": [t.trace_id for t in row.turns],
                   "simulator_trace_id": None, "unfinished_trace_ids": list(read.unfinished)}
    return row


def _detail(read: StoredSession) -> str | None:
    """What the row should say besides its turns: turns left out because unfinished, turns that ended in ERROR."""
    notes = []
    if read.unfinished and read.turns:
        count = len(read.unfinished)
        shown = ", ".join(read.unfinished[:3]) + (" …" if count > 3 else "")
        notes.append(f"scored on the {len(read.turns)} turn{'s' if len(read.turns) > 1 else ''} stored so far: "
                     f"{count} more {'turn has' if count == 1 else 'turns have'} not finished (still running, or "
                     f"its process ended first: {shown})")
    failed = [(n, t) for n, t in enumerate(read.turns, 1) if t.status == "ERROR"]
    for number, turn in failed[:3]:
        notes.append(f"turn {number} ended in ERROR" + (f": {turn.error[:200]}" if turn.error else ""))
    if len(failed) > 3:
        notes.append(f"and {len(failed) - 3} more turns ended in ERROR")
    return "; ".join(notes) or None
