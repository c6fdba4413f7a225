"""``evaluate()`` over conversations: scripted turns or a simulated user driving the agent, judged per turn
and as a whole; one result row per conversation.

>>> import llmops_nb
>>> from llmops_nb import scorers
>>> df = llmops_nb.evaluate(
...     [{"turns": ["Hi, I'm Ada", "Book me a table for two on Friday", "What name is it under?"]},
...      {"goal": "Get a refund for order 1234", "persona": "A terse customer", "max_turns": 6}],
...     predict_fn=agent,  # agent(messages) -> the assistant's reply
...     scorers=[scorers.goal_completion(), scorers.knowledge_retention(), scorers.relevance_to_query()],
...     simulator=llmops_nb.evals.SimulatedUser(model="openai:/gpt-4o-mini"))  # doctest: +SKIP
>>> llmops_nb.agents.session(df.session[0])  # doctest: +SKIP

Why ``evaluate()`` itself and not an ``evaluate_conversations()``: it is one evaluation with the same
result, storage and views — the same DataFrame shape, the run in ``eval_runs``, rows in
``eval_results``, scores as assessments, the EvalTable under the cell, ``compare_runs()`` between two
agent versions (rows pair on the conversation's ``record_id``), interrupts keeping finished rows — so
it is the same function, as in MLflow 3 (``mlflow.genai.evaluate(data=simulator, ...)``). What
changes is decided by the data: rows with ``turns`` or ``goal`` are conversations
(``_conversation_data``; a row with ``inputs`` among them is refused, naming the fix), and
``simulator=`` configures the simulated user. Conversations already in the store are judged without
running the agent again: ``evaluate(llmops_nb.sessions(...))`` or rows ``{"session": id}``, no
``predict_fn`` (``_conversation_stored``). Nothing about ordinary rows changes.

The pieces: ``_conversation_data`` (rows, and the agent's contract: ``predict_fn(messages)`` returns
the reply), ``_simulated_user`` (the LLM playing the user), ``_conversation_engine`` (turns, traces,
scoring), ``_conversation_scorers`` (per turn or per conversation, and the per-turn aggregate),
``_conversation_judges`` (goal_completion, user_frustration, knowledge_retention, turn_efficiency),
``_conversation_results`` (the frame's extra columns, per-turn assessments). This module ties them
into ``evaluate()``'s run (``_evaluate._Run``) as its plan.

A row's ``trace_id`` is its first turn's trace: the EvalTable opens it, and ``session`` (the
conversation id, ``<run_id>-<row>``, also ``traces.session`` of every turn) opens the whole
conversation in ``llmops_nb.agents.session()``. ``latency_ms`` is the agent's time summed over the
turns; ``input_tokens``, ``output_tokens`` and ``cost_usd`` are the turns' own spans (not the
simulated user's, not the judges'). A conversation whose agent raised, returned no reply, or whose
simulated user failed keeps its turns and transcript, names the turn in ``error`` (``turn 2:
ConnectionError: ...``; the turn's trace holds the traceback) and is not scored, like a row whose
predict_fn raised; the other conversations go on.
"""

from __future__ import annotations

import inspect
from typing import Any

from ._conversation_data import agent_caller, load_conversations
from ._conversation_engine import ConversationEngine, ConversationRow
from ._conversation_results import add_columns, live_turn_summary, save_turn_scores
from ._conversation_scorers import TurnScorer, is_conversation_level
from ._run_store import usage_by_trace
from ._scorer import Scorer, check_scorers
from ._simulated_user import DEFAULT_MAX_TURNS, SimulatedUser


class Conversations:
    """What an evaluation over conversations does where one over rows does otherwise: ``_evaluate._Run``
    takes it as its ``plan`` (its rows, scorers, engine, usage, extra storage and columns); the run's
    checks, progress, saving, interrupts and summary are the same code as for rows."""

    def __init__(self, rows: list[Any] | None, predict_fn: Any, scorers: Any, *, simulator: Any) -> None:
        if simulator is not None and not isinstance(simulator, SimulatedUser):
            raise TypeError(f"simulator must be a llmops_nb.evals.SimulatedUser, got {type(simulator).__name__}: "
                            "e.g. simulator=SimulatedUser(model='openai:/gpt-4o-mini', max_turns=6).")
        if rows is None:
            raise ValueError("simulator= plays the user of conversations, but the data holds none: give rows with "
                             "a 'goal' (and optionally 'persona', 'max_turns'), or 'turns' for scripted ones.")
        self.scorers: list[Scorer] = [s if is_conversation_level(s) else TurnScorer(s) for s in check_scorers(scorers)]
        records = load_conversations(rows, simulator.max_turns if simulator is not None else DEFAULT_MAX_TURNS)
        self.agent = agent_caller(predict_fn, records)
        self.agent_async = inspect.iscoroutinefunction(predict_fn)  # other awaitables: Engine._settle
        if simulator is None and any("goal" in r.inputs for r in records):
            simulator = SimulatedUser()  # the judges' default model
        self.simulator: SimulatedUser | None = simulator
        self.rows = [ConversationRow(index, record) for index, record in enumerate(records)]

    def params(self) -> dict[str, Any]:
        """Stored with the run: ``eval_results()`` knows a run over conversations by ``conversations``."""
        simulator = self.simulator.describe() if self.simulator is not None else None
        return {"conversations": True, "simulator": simulator}

    def engine(self, run_id: str, name: str, *, max_concurrency: int, loop: Any) -> ConversationEngine:
        return ConversationEngine(run_id, name, self.rows, agent=self.agent, agent_async=self.agent_async,
                                  scorers=self.scorers, simulator=self.simulator, max_concurrency=max_concurrency,
                                  loop=loop)

    def usage(self, rows: list[Any]) -> dict[str, Any]:
        """Per conversation (keyed by its first turn's trace): the turns' summed tokens, cost and time."""
        turns = {r.trace_id: [t.trace_id for t in r.turns] for r in rows
                 if isinstance(r, ConversationRow) and r.trace_id}
        found = usage_by_trace([t for ids in turns.values() for t in ids])
        usage: dict[str, Any] = {}
        for key, ids in turns.items():
            parts = [found[t] for t in ids if t in found]
            if parts:
                usage[key] = tuple(_sum(p[i] for p in parts) for i in range(4))
        return usage

    def save_more(self, run_id: str, rows: list[Any]) -> None:
        save_turn_scores(run_id, [r for r in rows if isinstance(r, ConversationRow)], self.scorers)

    def decorate(self, frame: Any, rows: list[Any]) -> Any:
        done = [r for r in rows if isinstance(r, ConversationRow)]
        return add_columns(frame, live_turn_summary(done, self.scorers))


def _sum(values: Any) -> Any:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
