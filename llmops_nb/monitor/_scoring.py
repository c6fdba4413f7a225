"""Scoring one online scorer's pending traces: each call under its own EVALUATOR trace, retried, timed out.

Each call is the root of a trace of its own, tagged ``llmops_nb.monitor`` so monitors never score
it: the judge's model call nests under it, and what monitoring costs is in the store like any
other traffic. An exception is retried with exponential backoff and jitter (a judge's 429s and
5xx are retried inside the model client already; this catches the rest), then becomes the
trace's error assessment; a judge's unreadable reply is an error at once (asking again gives the
same reply); a call past ``timeout`` is answered "timed out" by :mod:`._workers`.
"""

from __future__ import annotations

import inspect
import random
import time
from collections.abc import Callable
from typing import Any

from .._trace import Trace
from ..evals._engine import annotate_score, describe_exception
from ..evals._loop import background_loop, run_coroutine
from ..evals._scorer import Score, to_score
from ..evals._util import from_json
from ..tracing import start_span, use_span
from ._ledger import Item, Result
from ._online import OnlineScorer

BACKOFF_S = 0.5


def scoring_call(online: OnlineScorer, retries: int, stopping: Callable[[], bool]) -> Callable[[Item], Result]:
    """The job each worker runs for one item of ``online``."""
    scorer = online.scorer

    def call(item: Item) -> Result:
        root = start_span(f"monitor {online.name}", "EVALUATOR", parent=None, attributes={
            "gen_ai.evaluation.name": online.name, "llmops_nb.monitor.scorer": online.name,
            "llmops_nb.monitor.version": online.version, "llmops_nb.monitor.trace_id": item.trace_id,
            "llmops_nb.monitor.target_span_id": item.target_span_id or None, "llmops_nb.eval.source": scorer.source})
        root.trace_meta = {"tags": {"llmops_nb.monitor": online.name}}
        arguments = {"inputs": from_json(item.inputs), "outputs": from_json(item.outputs), "expectations": None,
                     "trace": Trace(item.trace_id)}
        root.set_inputs({"trace_id": item.trace_id, "span_id": item.target_span_id or None})
        score = Score(None)
        try:
            with use_span(root):
                for attempt in range(retries + 1):
                    try:
                        score = to_score(_invoke(scorer, arguments, root), online.name)
                        break
                    except Exception as exc:  # noqa: BLE001 - the scorer's failure is this trace's error
                        if attempt == retries or stopping():
                            score = Score(None, error=describe_exception(exc))
                            root.record_exception(exc)
                            break
                        time.sleep(BACKOFF_S * 2**attempt * (0.5 + random.random()))
        finally:
            annotate_score(root, score, online.scorer)
            root.end()
        return Result(item, score, root.span_id)

    return call


def timed_out(item: Item, timeout: float) -> Result:
    """The result of a call that did not answer in time."""
    return Result(item, Score(None, error=f"TimeoutError: the scorer did not answer within {timeout:g} s"), None)


def _invoke(scorer: Any, arguments: dict[str, Any], parent: Any) -> Any:
    needed = {k: v for k, v in arguments.items() if k in scorer.needs}
    if scorer.is_async:
        return run_coroutine(scorer.score, needed, loop=background_loop(), parent=parent)
    value = scorer.score(**needed)
    if inspect.isawaitable(value):
        async def wait() -> Any:
            return await value

        return run_coroutine(wait, {}, loop=background_loop(), parent=parent)
    return value
