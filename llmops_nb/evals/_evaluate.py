"""``evaluate()`` and ``aevaluate()``: run an app over data, score it, return a plain pandas DataFrame.

The calling thread only waits, draws progress and saves finished rows; the
work runs on worker threads (see :mod:`._engine`). So ``evaluate()`` never
touches the caller's event loop — inside Jupyter the kernel's loop keeps
running and ``asyncio.run`` is never called — and a kernel interrupt
(``KeyboardInterrupt``) lands in the waiting thread, which stops the workers,
stores the finished rows and raises :class:`EvaluationInterrupted` carrying
them. ``aevaluate()`` is the same for ``await``; its async predict_fn and
scorers run on the caller's loop.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

from ._engine import Engine, Row, SourceRoot
from ._loop import background_loop
from ._records import load_records
from ._results import build_frame, summarize
from ._run_store import create_run, finish_run, row_latency, save_rows, save_usage, usage_by_trace
from ._scorer import Score, Scorer, check_scorers
from ._util import new_id

SAVE_EVERY_S = 1.0


class EvaluationInterrupted(KeyboardInterrupt):
    """The evaluation was interrupted; ``results`` holds the finished rows (also stored under ``run_id``).

    Deliberately *not* an :class:`~llmops_nb.LlmopsError`: that root is an ``Exception``, and an
    interrupt must stay outside ``except Exception`` — in the user's retry loops, in IPython and
    in our own workers — so that stopping a cell stops it.
    """

    def __init__(self, message: str, results: Any, run_id: str) -> None:
        super().__init__(message)
        self.results, self.run_id = results, run_id


def evaluate(data: Any, predict_fn: Callable[..., Any] | None = None, scorers: Any = (), *, name: str | None = None,
             max_concurrency: int = 8, progress: bool = True, simulator: Any = None) -> Any:
    """Run ``predict_fn`` on every row of ``data`` (each under its own trace), score it, return a DataFrame.

    ``data``: a Dataset, DataFrame, list of dicts or .jsonl/.csv path with
    ``inputs`` (and optional ``expectations``; ``outputs`` to score stored
    answers without a predict_fn), or a ``traces()`` DataFrame.
    ``predict_fn(**inputs)``: sync or async. ``max_concurrency``: predictions
    and scorer calls in flight at once. Returns one row per example:
    ``inputs, outputs, expectations, trace_id, record_id, latency_ms,
    input_tokens, output_tokens, cost_usd, error`` and per scorer
    ``<scorer>/value``, ``<scorer>/rationale``, ``<scorer>/error``;
    ``df.attrs`` has ``run_id``, ``name``, ``status`` and ``summary``
    (per scorer: mean, pass_rate, count, errors). The run is stored
    (``llmops_nb.eval_runs()``, ``llmops_nb.eval_results(run_id)``) and every
    score is an assessment on the row's trace. On a kernel interrupt the
    finished rows are stored and :class:`EvaluationInterrupted` (a
    ``KeyboardInterrupt``) is raised with them in ``.results``.

    Conversations: rows with ``turns`` (scripted user messages) or ``goal`` (a
    :class:`SimulatedUser` plays the user; ``simulator=`` configures it) run
    ``predict_fn(messages)`` once per turn, each turn its own trace in one
    session; see :mod:`llmops_nb.evals._conversation`. Conversations already
    in the store — ``llmops_nb.sessions()``, or ``[{"session": id}, ...]`` —
    are scored without a predict_fn, one row per session
    (:mod:`llmops_nb.evals._conversation_stored`).

    >>> import llmops_nb
    >>> from llmops_nb import scorers
    >>> df = llmops_nb.evaluate(
    ...     [{"inputs": {"q": "2+2"}, "expectations": {"expected_response": "4"}}],
    ...     predict_fn=lambda q: str(eval(q)), scorers=[scorers.exact_match()], progress=False)  # doctest: +SKIP
    >>> df["exact_match/value"].tolist()  # doctest: +SKIP
    [True]
    """
    run = _make_run(data, predict_fn, scorers, name=name, max_concurrency=max_concurrency, progress=progress,
                    simulator=simulator)
    run.start(background_loop())
    try:
        while not run.engine.done.wait(0.1):
            run.tick()
        return run.finish()
    except KeyboardInterrupt:
        run.interrupt()  # raises EvaluationInterrupted
        raise  # not reached
    except BaseException as exc:
        run.fail(exc)
        raise


async def aevaluate(data: Any, predict_fn: Callable[..., Any] | None = None, scorers: Any = (), *,
                    name: str | None = None, max_concurrency: int = 8, progress: bool = True,
                    simulator: Any = None) -> Any:
    """``evaluate()`` for ``await``: the event loop keeps running; async predict_fns run on it.

    Cancelling the task stores the finished rows and re-raises ``CancelledError``.

    >>> df = await llmops_nb.aevaluate(data, predict_fn=my_async_app, scorers=[...])  # doctest: +SKIP
    """
    run = _make_run(data, predict_fn, scorers, name=name, max_concurrency=max_concurrency, progress=progress,
                    simulator=simulator)
    run.start(asyncio.get_running_loop())
    try:
        while not run.engine.done.is_set():
            await asyncio.sleep(0.1)
            run.tick(save=False)
            if run.should_save():
                await asyncio.to_thread(run.save)
    except KeyboardInterrupt:
        run.interrupt()
    except asyncio.CancelledError as exc:
        await asyncio.to_thread(_quietly, run.interrupt)
        raise exc from None
    except BaseException as exc:
        run.fail(exc)
        raise
    return await asyncio.to_thread(run.finish)


def _make_run(data: Any, predict_fn: Any, scorers: Any, *, simulator: Any, **options: Any) -> _Run:
    """A run over rows, or over conversations when the data holds them (or a simulator is given): to run
    (``turns``/``goal`` rows) or already stored (sessions: ``_conversation_stored``)."""
    from ._conversation_data import conversation_rows
    from ._conversation_stored import StoredConversations, stored_rows

    stored = stored_rows(data)
    if stored is not None:
        return _Run(None, predict_fn, scorers, plan=StoredConversations(stored, predict_fn, scorers,
                                                                        simulator=simulator), **options)
    rows = conversation_rows(data)
    if rows is None and simulator is None:
        return _Run(data, predict_fn, scorers, **options)
    from ._conversation import Conversations

    plan = Conversations(rows, predict_fn, scorers, simulator=simulator)
    return _Run(None, predict_fn, scorers, plan=plan, **options)


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except EvaluationInterrupted:
        pass


class _Run:
    """One evaluation from checks to the stored, summarized result."""

    def __init__(self, data: Any, predict_fn: Any, scorers: Any, *, name: str | None, max_concurrency: int,
                 progress: bool, plan: Any = None) -> None:
        if predict_fn is not None and not callable(predict_fn):
            raise TypeError(f"predict_fn must be a function (sync or async), got {type(predict_fn).__name__}.")
        if not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool) or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be a positive integer, got {max_concurrency!r}.")
        # a run over conversations (._conversation.Conversations): its rows, engine, usage and columns
        self.plan = plan
        if plan is None:
            self.scorers: list[Scorer] = check_scorers(scorers)
            records = load_records(data)
            if predict_fn is None:
                lacking = [i for i, r in enumerate(records) if not r.has_outputs and r.source_trace_id is None]
                if lacking:
                    raise ValueError(f"Row {lacking[0]} has no 'outputs' and no predict_fn was given: pass "
                                     "predict_fn=your_app, or include each row's outputs to score them as they are.")
            else:
                _check_signature(predict_fn, records[0].inputs)
            self.rows = [Row(index, record) for index, record in enumerate(records)]
            if predict_fn is None:
                _attach_source_traces(self.rows)
        else:
            self.scorers, self.rows = plan.scorers, plan.rows
        self.dataset = data if plan is None and hasattr(data, "version") and hasattr(data, "records") else None
        self.name = name or getattr(self.dataset, "name", None) or getattr(predict_fn, "__name__", None) or \
            "evaluation"
        if self.name == "<lambda>":
            self.name = "evaluation"
        self.run_id = new_id()
        self.predict_fn = predict_fn
        self.max_concurrency = max_concurrency
        self.progress_enabled = progress
        self.saved = 0
        self._last_save = 0.0
        self.started = 0.0

    def start(self, loop: Any) -> None:
        from .._autolog import autolog

        autolog()  # SDK calls inside predict_fn become spans of the row's trace, with tokens and cost
        from ._progress import Progress

        create_run(self.run_id, self.name, len(self.rows), dataset=self.dataset, predict_fn=self.predict_fn,
                   scorers=self.scorers, params=self._params())
        self.started = time.monotonic()
        self._last_save = self.started
        self.progress = Progress(len(self.rows), self.name, enabled=self.progress_enabled)
        self.engine = self._engine(loop)
        self.engine.start()

    # where a run over conversations differs: its plan decides
    def _params(self) -> dict[str, Any]:
        params = {"max_concurrency": self.max_concurrency}
        return params if self.plan is None else {**params, **self.plan.params()}

    def _engine(self, loop: Any) -> Engine:
        if self.plan is not None:
            return self.plan.engine(self.run_id, self.name, max_concurrency=self.max_concurrency, loop=loop)
        return Engine(self.run_id, self.name, self.rows, self.predict_fn, self.scorers,
                      max_concurrency=self.max_concurrency, loop=loop)

    def _usage(self, rows: list[Row]) -> dict[str, Any]:
        """Per row trace: the app's (input_tokens, output_tokens, cost_usd, duration_ms)."""
        if self.plan is not None:
            return self.plan.usage(rows)
        return usage_by_trace([r.trace_id for r in rows if r.trace_id])

    def tick(self, save: bool = True) -> None:
        self.progress.update(len(self.engine.finished), self._errors())
        if save and self.should_save():
            self.save()

    def should_save(self) -> bool:
        return time.monotonic() - self._last_save >= SAVE_EVERY_S

    def save(self) -> None:
        self._last_save = time.monotonic()
        rows = self.engine.take_unsaved()
        if rows:
            for row in rows:
                _mark_unscored(row, self.scorers)
            self.saved += len(rows)
            save_rows(self.run_id, rows, self.scorers, self.saved)
            if self.plan is not None:
                self.plan.save_more(self.run_id, rows)

    def _errors(self) -> int:
        return self.engine.errors

    def finish(self, status: str = "FINISHED") -> Any:
        self.save()
        rows = sorted(self.engine.finished, key=lambda r: r.index)
        from ..tracing import flush

        flush(timeout=60.0 if status == "FINISHED" else 5.0)
        usage = self._usage(rows)
        save_usage(self.run_id, usage, rows)
        values = {s.name: [r.scores[s.name].value for r in rows if s.name in r.scores] for s in self.scorers}
        errors = {s.name: sum(1 for r in rows if s.name in r.scores and r.scores[s.name].error)
                  for s in self.scorers}
        summary = summarize(values, errors, self.scorers)
        wall = time.monotonic() - self.started
        finish_run(self.run_id, status, rows_done=len(rows), summary=summary, wall_s=wall)
        self.progress.close(status, len(rows), self._errors())
        frame = build_frame([_row_dict(r, usage.get(r.trace_id or "")) for r in rows],
                            [s.name for s in self.scorers],
                            {"run_id": self.run_id, "name": self.name, "status": status, "summary": summary,
                             "scorers": [s.describe() for s in self.scorers],
                             "wall_s": wall, "dataset": {"name": self.dataset.name, "version": self.dataset.version}
                             if self.dataset is not None else None})
        if self.plan is not None:
            frame = self.plan.decorate(frame, rows)
        if status == "FINISHED":
            from .. import _display

            _display.announce(_display.EVALUATION, frame)  # the EvalTable under the cell, once %load_ext ran
        return frame

    def interrupt(self) -> None:
        self.engine.stop()
        frame = self.finish("INTERRUPTED")
        done, total = len(frame), len(self.rows)
        raise EvaluationInterrupted(
            f"Evaluation {self.name!r} interrupted: {done} of {total} rows finished and stored (run "
            f"{self.run_id}). Get them with llmops_nb.eval_results({self.run_id!r}), or from this "
            "exception's .results.", frame, self.run_id) from None

    def fail(self, exc: BaseException) -> None:
        self.engine.stop()
        try:
            self.save()
            finish_run(self.run_id, "FAILED", rows_done=self.saved, summary={},
                       wall_s=time.monotonic() - self.started, error=f"{type(exc).__name__}: {exc}")
            self.progress.close("FAILED", len(self.engine.finished))
        except Exception:  # noqa: BLE001 - the original error matters more
            pass


def _mark_unscored(row: Row, scorers: list[Scorer]) -> None:
    if row.error is None:
        return
    for scorer in scorers:
        row.scores.setdefault(scorer.name, Score(None, error="not scored: the prediction failed (see the error "
                                                            "column)"))


def _row_dict(row: Row, usage: Any) -> dict[str, Any]:
    record = row.record
    latency = row_latency(row, usage)
    return {"row_index": row.index, "inputs": record.inputs, "outputs": row.outputs,
            "expectations": record.expectations, "trace_id": row.trace_id, "record_id": record.record_id,
            "latency_ms": latency, "input_tokens": usage[0] if usage else None,
            "output_tokens": usage[1] if usage else None, "cost_usd": usage[2] if usage else None,
            "error": row.error,
            "scores": {name: (s.value, s.rationale, s.error) for name, s in row.scores.items()}}


def _check_signature(predict_fn: Any, inputs: Any) -> None:
    """Fail before the run, not on every row, when predict_fn cannot take the inputs."""
    try:
        signature = inspect.signature(predict_fn)
    except (TypeError, ValueError):
        return
    whole = not isinstance(inputs, dict) or list(signature.parameters) == ["inputs"]
    try:
        signature.bind(inputs) if whole else signature.bind(**inputs)
    except TypeError:
        shown = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
        raise TypeError(f"predict_fn{signature} cannot take the rows' inputs {shown}: evaluate() calls "
                        "predict_fn(**inputs), so name its parameters like the inputs' keys (or name its one "
                        "parameter 'inputs' to receive them whole).") from None


def _attach_source_traces(rows: list[Row]) -> None:
    """Rows taken from stored traces are scored on those traces: find each one's root span."""
    wanted = [r.record.source_trace_id for r in rows if r.record.source_trace_id]
    if not wanted:
        return
    from ..store._connection import get_store
    from ..tracing import flush

    flush()
    with get_store().connect() as con:
        roots = dict(con.execute("SELECT trace_id, span_id FROM spans WHERE parent_span_id IS NULL AND trace_id IN "
                                 "(SELECT unnest(?::VARCHAR[]))", [wanted]).fetchall())
    for row in rows:
        source = row.record.source_trace_id
        if source is None:
            continue
        if source not in roots:
            raise LookupError(f"Row {row.index} comes from trace {source}, which is not in the store; drop its "
                              "trace_id to score the row on a new trace.")
        row.trace_id, row.parent = source, SourceRoot(source, roots[source])
        row.outputs = row.record.outputs
