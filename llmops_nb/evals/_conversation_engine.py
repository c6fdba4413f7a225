"""Running conversations: each turn's agent call under its own trace in the conversation's session, the
simulated user's calls in a trace of their own, then per-turn and conversation-level scoring.

It is :class:`~._engine.Engine` with a conversation as the unit of work: one worker plays one
conversation turn by turn (turns depend on each other), then its scorers go to the queue like a
row's — each per-turn scorer as one item that scores every turn, each conversation-level scorer as
one item — so a conversation's judges run side by side and many conversations at once.

Traces. Turn *n* is a root span named after the run (kind CHAIN) around ``predict_fn``, with the
trace's session = the conversation id (``<run_id>-<row>``), tags ``llmops_nb.eval_run`` (so
monitoring's TRAFFIC leaves it out, as every evaluation trace), inputs ``{"messages": [...]}`` (what
``sessions()`` reads the user's words from) and the reply as outputs; it ends when the agent has
answered, so a session's turn times are the agent's. A per-turn scorer's EVALUATOR span is added to
that turn's trace afterwards; conversation-level scorers' to the first turn's trace — the row's trace,
where their assessments live (as MLflow stores session-level assessments on the session's first
trace). The simulated user's model calls run under a separate root ``simulated_user`` per conversation,
tagged ``llmops_nb.eval_run`` and ``llmops_nb.simulated_user`` = the conversation id, with no session:
not a turn, and not in the conversation's tokens or cost (those sum the turns' own spans).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..tracing import start_span, use_span
from ._conversation_data import AgentReplyError, reply_text, user_turns
from ._conversation_scorers import TurnScorer
from ._engine import Engine, Row, SourceRoot, describe_exception
from ._loop import run_coroutine
from ._scorer import Score, Scorer
from ._simulated_user import SimulatedUser, SimulatorError
from ._trace_view import RowTrace

SIMULATED_USER_TAG = "llmops_nb.simulated_user"


@dataclass
class Turn:
    """One user message and the agent's answer, under the trace ``trace_id`` (root ``span_id``)."""

    number: int
    user: str
    trace_id: str
    span_id: str
    expectations: Any = None
    reply: str | None = None
    latency_ms: float = 0.0
    error: str | None = None
    scores: dict[str, tuple[Score, str]] = field(default_factory=dict)  # scorer -> (score, EVALUATOR span)
    trace: Any = None


@dataclass
class ConversationRow(Row):
    session: str = ""
    turns: list[Turn] = field(default_factory=list)
    stop_reason: str | None = None
    stop_detail: str | None = None
    simulator_trace_id: str | None = None


class ConversationEngine(Engine):
    """An :class:`Engine` whose rows are conversations (see the module doc)."""

    def __init__(self, run_id: str, name: str, rows: list[ConversationRow], *, agent: Any, agent_async: bool,
                 scorers: list[Scorer], simulator: SimulatedUser | None, max_concurrency: int, loop: Any) -> None:
        super().__init__(run_id, name, list(rows), None, scorers, max_concurrency=max_concurrency, loop=loop)
        self.agent, self.agent_async, self.simulator = agent, agent_async, simulator

    # -- one conversation -----------------------------------------------------------------------
    def _trace_row(self, row: Row) -> None:
        assert isinstance(row, ConversationRow)
        spec = row.record.inputs
        row.session = f"{self.run_id}-{row.index}"
        messages: list[dict[str, Any]] = []
        scripted = user_turns(spec) if "turns" in spec else None
        limit = len(scripted) if scripted is not None else int(spec["max_turns"])
        simulator_root: Any = None
        try:
            for number in range(1, limit + 1):
                if self.stopped:
                    return
                expectations = None
                if scripted is not None:
                    text, expectations = scripted[number - 1]
                elif number == 1 and spec.get("first_message"):
                    text = spec["first_message"]
                else:
                    if simulator_root is None:
                        simulator_root = self._simulator_root(row)
                    try:
                        decision = self._ask_user(row, simulator_root, messages, number, limit)
                    except Exception as exc:  # noqa: BLE001 - the simulated user's failure is this row's error
                        row.error = f"simulated user, before turn {number}: {describe_exception(exc)}"
                        row.stop_reason = "simulator_error"
                        break
                    if decision.stop:
                        row.stop_reason, row.stop_detail = "goal_met", decision.reason
                        break
                    text = str(decision.message)
                messages.append({"role": "user", "content": text})
                turn = self._turn(row, number, messages, expectations)
                row.turns.append(turn)
                if turn.error is not None:
                    row.error, row.stop_reason = f"turn {number}: {turn.error}", "error"
                    break
                messages.append({"role": "assistant", "content": turn.reply})
            else:
                row.stop_reason = "script_end" if scripted is not None else "max_turns"
        finally:
            if simulator_root is not None:
                simulator_root.set_outputs({"stop_reason": row.stop_reason, "turns": len(row.turns)})
                simulator_root.end()
        row.latency_ms = sum(t.latency_ms for t in row.turns)
        row.outputs = {"messages": messages, "session": row.session, "turns": len(row.turns),
                       "stop_reason": row.stop_reason, "stop_detail": row.stop_detail,
                       "trace_ids": [t.trace_id for t in row.turns], "simulator_trace_id": row.simulator_trace_id}
        if row.turns:
            first = row.turns[0]
            row.trace_id, row.parent = first.trace_id, SourceRoot(first.trace_id, first.span_id)

    def _turn(self, row: ConversationRow, number: int, messages: list[dict[str, Any]], expectations: Any) -> Turn:
        """The agent's answer to ``messages`` under the turn's own trace."""
        context = row.record.inputs.get("context") or {}
        root = start_span(self.name, "CHAIN", attributes={
            "llmops_nb.eval.run_id": self.run_id, "llmops_nb.eval.row_index": row.index,
            "llmops_nb.eval.record_id": row.record.record_id, "llmops_nb.eval.turn": number}, parent=None)
        root.trace_meta = {"tags": {"llmops_nb.eval_run": self.run_id}, "session": row.session}
        root.set_inputs({"messages": messages, **context})
        turn = Turn(number, messages[-1]["content"], root.trace_id, root.span_id, expectations)
        turn.trace = RowTrace(turn.trace_id)
        sent = [dict(m) for m in messages]  # the agent may keep or change its list; ours stays the transcript
        started = time.perf_counter()
        try:
            with use_span(root):
                if self.agent_async:
                    reply = run_coroutine(self._call_async, {"messages": sent, "session": row.session,
                                                             "context": context},
                                          loop=self.loop, parent=root, futures=self._futures)
                else:
                    reply = self._settle(self.agent(sent, row.session, context), root)
            turn.latency_ms = (time.perf_counter() - started) * 1000
            root.set_outputs(reply)
            turn.reply = reply_text(reply)
        except AgentReplyError as exc:
            turn.error = str(exc)
            root.set_status("ERROR", turn.error)
        except BaseException as exc:  # noqa: BLE001 - the conversation fails, the run goes on
            turn.latency_ms = (time.perf_counter() - started) * 1000
            turn.error = describe_exception(exc)
            root.record_exception(exc)
        finally:
            root.end()
        return turn

    async def _call_async(self, messages: list[dict[str, Any]], session: str, context: dict[str, Any]) -> Any:
        return await self.agent(messages, session, context)

    def _simulator_root(self, row: ConversationRow) -> Any:
        spec = row.record.inputs
        root = start_span("simulated_user", "CHAIN", attributes={
            "llmops_nb.eval.run_id": self.run_id, "llmops_nb.eval.row_index": row.index,
            "llmops_nb.eval.session": row.session}, parent=None)
        root.trace_meta = {"tags": {"llmops_nb.eval_run": self.run_id, SIMULATED_USER_TAG: row.session}}
        root.set_inputs({k: spec.get(k) for k in ("persona", "goal", "max_turns")})
        row.simulator_trace_id = root.trace_id
        return root

    def _ask_user(self, row: ConversationRow, root: Any, messages: list[dict[str, Any]], number: int,
                  limit: int) -> Any:
        """The simulated user's next message or stop, as one span (its model call inside) of its own trace."""
        if self.simulator is None:
            raise SimulatorError("no simulated user: pass simulator=SimulatedUser(...)")
        spec = row.record.inputs
        span = start_span("next_user_message", "CHAIN", attributes={"llmops_nb.eval.turn": number}, parent=root)
        span.set_inputs({"messages": messages})
        try:
            with use_span(span):
                decision = self.simulator.next_turn(goal=spec["goal"], persona=spec.get("persona"),
                                                    messages=[dict(m) for m in messages], turn=number,
                                                    max_turns=limit)
        except BaseException as exc:
            span.record_exception(exc)
            span.end()
            raise
        span.set_outputs({"message": decision.message, "stop": decision.stop, "reason": decision.reason})
        span.end()
        if decision.stop and number == 1:
            raise SimulatorError("the simulated user stopped before writing its first message")
        return decision

    # -- scoring ------------------------------------------------------------------------------------
    def _score(self, row: Row, scorer: Scorer, arguments: dict[str, Any]) -> None:
        if not isinstance(scorer, TurnScorer):
            super()._score(row, scorer, arguments)
            return
        assert isinstance(row, ConversationRow)
        scores = [(turn.number, self._score_turn(row, turn, scorer.inner)) for turn in row.turns]
        row.scores[scorer.name] = scorer.aggregate(scores)

    def _score_turn(self, row: ConversationRow, turn: Turn, scorer: Scorer) -> Score:
        """One single-turn scorer on one turn, under an EVALUATOR span in the turn's trace."""
        parent: Any = SourceRoot(turn.trace_id, turn.span_id)  # the turn's root, ended: a parent by its ids
        arguments = {"inputs": turn.user, "outputs": turn.reply, "expectations": turn.expectations,
                     "trace": turn.trace}
        score, span_id = self.scored_span(scorer, arguments, parent, {"llmops_nb.eval.row_index": row.index,
                                                                        "llmops_nb.eval.turn": turn.number})
        turn.scores[scorer.name] = (score, span_id)
        return score
