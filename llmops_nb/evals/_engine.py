"""Running one evaluation: predict each row under its own trace, then score it, N units of work at a time.

A row's trace covers both: its root (a CHAIN span named after the run) opens before the
prediction and ends when the row's last scorer has finished, so the app's spans and the scorers'
EVALUATOR spans are all the root's children inside its time (a waterfall drawn on the root's
duration shows every bar). The latency of a row stays the prediction's own time.

``max_concurrency`` worker threads take work from one priority queue: a row's
prediction, then each of its slow scorers (judges, custom functions) as
separate items, so a row's judges run side by side. Scoring items go before
new predictions, so rows finish steadily (the progress bar moves, an interrupt
keeps many finished rows) and at most ``max_concurrency`` calls are ever in
flight. Cheap deterministic scorers run right after the prediction, in the same
worker. Async predict_fns and scorers run on an event loop (the background
loop, or the caller's under ``aevaluate``) while their worker waits.

Every unit records its own failure; nothing a row does stops the others.
"""

from __future__ import annotations

import inspect
import itertools
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._safety import log_once
from ..tracing import start_span, use_span
from ._loop import run_coroutine
from ._records import Record
from ._scorer import Score, Scorer, to_score
from ._trace_view import RowTrace


@dataclass
class Row:
    index: int
    record: Record
    outputs: Any = None
    trace_id: str | None = None
    latency_ms: float | None = None
    error: str | None = None
    scores: dict[str, Score] = field(default_factory=dict)
    span_ids: dict[str, str] = field(default_factory=dict)
    parent: Any = None  # the span judges' EVALUATOR spans hang under
    root: Any = None  # the row's own root span while it is open (ended when scoring is done)
    trace: Any = None
    pending: int = 0


class SourceRoot:
    """A stored trace's root, as the parent of new spans added to that trace."""

    __slots__ = ("span_id_int", "trace_id_int")
    depth = 0  # a parent's nesting depth, as Span has it

    def __init__(self, trace_id: str, span_id: str) -> None:
        self.trace_id_int, self.span_id_int = int(trace_id, 16), int(span_id, 16)


class Engine:
    """Runs rows on worker threads; ``finished`` fills as rows complete. ``stop()`` abandons the rest."""

    def __init__(self, run_id: str, name: str, rows: list[Row], predict_fn: Callable[..., Any] | None,
                 scorers: list[Scorer], *, max_concurrency: int, loop: Any) -> None:
        self.run_id, self.name, self.rows = run_id, name, rows
        self.predict = _caller(predict_fn) if predict_fn is not None else None
        self.predict_async = predict_fn is not None and inspect.iscoroutinefunction(predict_fn)
        self.inline = [s for s in scorers if s.inline and not s.is_async]
        self.slow = [s for s in scorers if not (s.inline and not s.is_async)]
        self.workers = max(1, min(max_concurrency, len(rows) * max(1, len(self.slow))))
        self.loop = loop
        self.finished: list[Row] = []
        self.unsaved: list[Row] = []
        self.done = threading.Event()
        self.stopped = False
        self.in_flight = 0
        self.peak_in_flight = 0
        self.errors = 0  # finished rows whose predict_fn raised
        self._queue: queue.PriorityQueue[Any] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._futures: set[Any] = set()
        self._remaining = len(rows)

    # -- control --------------------------------------------------------------------------
    def start(self) -> None:
        if not self.rows:
            self.done.set()
            return
        for row in self.rows:
            self._put((1, row.index), self._run_row, row)
        for number in range(self.workers):
            threading.Thread(target=self._work, name=f"llmops_nb-eval-{number}", daemon=True).start()

    def stop(self) -> None:
        """Stop taking work; rows not finished yet are dropped (a running call finishes in the background)."""
        with self._lock:
            self.stopped = True
            # the rows dropped keep their trace: what ran of them is stored under a finished root
            for row in self.rows:
                _end_root(row)
        for future in list(self._futures):
            future.cancel()
        for _ in range(self.workers):
            self._put((-1, -1), None)

    def take_unsaved(self) -> list[Row]:
        with self._lock:
            rows, self.unsaved = self.unsaved, []
        return rows

    # -- workers ----------------------------------------------------------------------------
    def _put(self, priority: tuple[int, int], fn: Callable[..., None] | None, *args: Any) -> None:
        self._queue.put((priority, next(self._seq), fn, args))

    def _work(self) -> None:
        while True:
            _, _, fn, args = self._queue.get()
            if fn is None or self.stopped:
                return
            with self._lock:
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001 - a bug of ours must not kill the worker
                log_once("evals.worker", exc)
            finally:
                with self._lock:
                    self.in_flight -= 1

    def _run_row(self, row: Row) -> None:
        try:
            if row.trace_id is None:
                self._trace_row(row)
            if self.stopped:
                return
            arguments = self._arguments(row)
            for scorer in self.inline:
                self._score(row, scorer, arguments)
        except Exception as exc:  # noqa: BLE001 - our failure is this row's error, not the run's
            row.error = row.error or f"llmops_nb failed on this row: {describe_exception(exc)}"
        if row.error is not None or not self.slow:
            self._finish(row)
            return
        row.pending = len(self.slow)
        for scorer in self.slow:
            self._put((0, row.index), self._run_scorer, row, scorer)

    def _trace_row(self, row: Row) -> None:
        """The row's own trace: a CHAIN root named after the run, around predict_fn if there is one."""
        record = row.record
        root = start_span(self.name, "CHAIN", attributes={"llmops_nb.eval.run_id": self.run_id,
                                                          "llmops_nb.eval.row_index": row.index,
                                                          "llmops_nb.eval.record_id": record.record_id},
                          parent=None)
        root.trace_meta = {"tags": {"llmops_nb.eval_run": self.run_id}}
        root.set_inputs(record.inputs)
        # the root stays open through scoring: _finish (or stop) ends it
        row.trace_id, row.parent, row.root = root.trace_id, root, root
        if self.predict is None:
            row.outputs = record.outputs
            root.set_outputs(record.outputs)
            return
        started = time.perf_counter()
        try:
            with use_span(root):
                if self.predict_async:
                    outputs = run_coroutine(self.predict, {"inputs": record.inputs}, loop=self.loop, parent=root,
                                            futures=self._futures)
                else:
                    outputs = self._settle(self.predict(inputs=record.inputs), root)
        except BaseException as exc:  # noqa: BLE001 - the row fails, the run goes on
            row.latency_ms = (time.perf_counter() - started) * 1000
            row.error = describe_exception(exc)
            root.record_exception(exc)
            return
        row.latency_ms = (time.perf_counter() - started) * 1000
        row.outputs = outputs
        root.set_outputs(outputs)

    def _arguments(self, row: Row) -> dict[str, Any]:
        if row.trace is None and row.trace_id is not None:
            row.trace = RowTrace(row.trace_id, root=row.root)
        return {"inputs": row.record.inputs, "outputs": row.outputs, "expectations": row.record.expectations,
                "trace": row.trace}

    def _run_scorer(self, row: Row, scorer: Scorer) -> None:
        try:
            self._score(row, scorer, self._arguments(row))
        finally:
            with self._lock:
                row.pending -= 1
                last = row.pending == 0
            if last:
                self._finish(row)

    def _score(self, row: Row, scorer: Scorer, arguments: dict[str, Any]) -> None:
        """One scorer on one row, under an EVALUATOR span in the row's trace."""
        score, span_id = self.scored_span(scorer, arguments, row.parent, {"llmops_nb.eval.row_index": row.index})
        row.scores[scorer.name] = score
        row.span_ids[scorer.name] = span_id

    def scored_span(self, scorer: Scorer, arguments: dict[str, Any], parent: Any,
                    attributes: dict[str, Any]) -> tuple[Score, str]:
        """``scorer`` called with ``arguments`` under an EVALUATOR span below ``parent`` (with these extra
        ``attributes``): its score — an error cell if it raised — and the span's id."""
        span = start_span(scorer.name, "EVALUATOR", attributes={
            "gen_ai.evaluation.name": scorer.name, "llmops_nb.eval.run_id": self.run_id, **attributes,
            "llmops_nb.eval.source": scorer.source}, parent=parent)
        try:
            with use_span(span):
                if scorer.is_async:
                    result = run_coroutine(scorer.score, arguments, loop=self.loop, parent=span,
                                           futures=self._futures)
                else:
                    result = self._settle(scorer.score(**arguments), span)
            score = to_score(result, scorer.name)
        except BaseException as exc:  # noqa: BLE001 - a failing scorer is a cell, not a crash
            score = Score(None, error=describe_exception(exc))
            span.record_exception(exc)
        annotate_score(span, score, scorer)
        span.end()
        return score, span.span_id

    def _settle(self, value: Any, parent: Any) -> Any:
        """A sync callable that returned an awaitable (a partial of an async function, an object with an
        async ``__call__``): await it on the event loop."""
        if not inspect.isawaitable(value):
            return value

        async def wait() -> Any:
            return await value

        return run_coroutine(wait, {}, loop=self.loop, parent=parent, futures=self._futures)

    def _finish(self, row: Row) -> None:
        with self._lock:
            _end_root(row)  # every scorer of the row has ended: the root's time covers them
            if self.stopped:
                return
            self.finished.append(row)
            self.unsaved.append(row)
            self.errors += row.error is not None
            self._remaining -= 1
            last = self._remaining == 0
        if last:
            self.done.set()
            for _ in range(self.workers):
                self._put((-1, -1), None)


def _end_root(row: Row) -> None:
    """End the row's own root once (called under the engine's lock, from _finish or stop)."""
    root, row.root = row.root, None
    if root is not None:
        root.end()


def annotate_score(span: Any, score: Score, scorer: Scorer) -> None:
    attributes: dict[str, Any] = {}
    value = score.value
    if isinstance(value, (bool, int, float)):
        attributes["gen_ai.evaluation.score.value"] = float(value) if not isinstance(value, bool) else value
    elif isinstance(value, str):
        attributes["gen_ai.evaluation.score.label"] = value
    if score.rationale:
        attributes["gen_ai.evaluation.explanation"] = score.rationale[:4000]
    if scorer.model_uri:
        attributes["llmops_nb.eval.judge_model"] = scorer.model_uri
    span.set_attributes(attributes)
    span.set_outputs({"value": value, "rationale": score.rationale, "error": score.error})
    if score.error and span.status != "ERROR":
        span.set_status("ERROR", score.error[:2000])


def describe_exception(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    qualified = f"{type(exc).__module__}.{type(exc).__qualname__}"
    if text.startswith(qualified):  # the class name reads better without its module
        text = type(exc).__qualname__ + text[len(qualified):]
    return text[:4000]


def _caller(fn: Callable[..., Any]) -> Callable[..., Any]:
    """How to call predict_fn with a row's inputs: ``fn(**inputs)`` (MLflow's way), else ``fn(inputs)``.

    The inputs go whole when they are not a dict, or when the function's only parameter is named ``inputs``.
    """
    try:
        whole_dict = list(inspect.signature(fn).parameters) == ["inputs"]
    except (TypeError, ValueError):
        whole_dict = False

    def call(inputs: Any) -> Any:
        if isinstance(inputs, dict) and not whole_dict:
            return fn(**inputs)
        return fn(inputs)

    return call
