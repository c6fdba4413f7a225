"""``EvalTable``: an evaluation result — or two runs side by side — as a table under the cell.

Rows come from the store or from a DataFrame (``_sides``), are read by SQL (``_sql``, ``_filters``,
``_reader``) 100 a request with the next page prefetched by the view, and nothing is copied into
the kernel: what the view shows is what the file holds, so feedback given in the view, or by
``log_feedback()`` in another cell, appears on the next read. Human feedback (thumbs, a label, a
comment) is written with :func:`llmops_nb.evals.log_feedback` (``_writes``). Two runs compare row by
row on ``record_id`` with the rules of :func:`llmops_nb.evals.compare_runs`; outputs are diffed word
by word with ``llmops_nb.diff``.

The view (``js/eval_table/``) asks through ``_rpc``: ``info``, ``summary``, ``page``, ``row``,
``row_ids``, ``runs``, ``feedback``, ``to_dataset``, and the explorer's ``skeleton``/``span``/``search``
for the trace a row opens, and ``snapshot`` (the saved output's HTML and text, asked for after feedback).
A run over conversations (``evaluate()`` with ``turns`` or ``goal`` rows) lists each conversation's
``session`` and ``turns``; its open row shows the session's transcript, whose ``turns`` the view asks
as the sessions view does (``transcript_methods``), and a turn's trace in the explorer.
Every request names the run it compares against (``compare``), so an answer never depends on which
traitlet change reached the kernel first. Traitlets hold view state only (filters, sort, the
selection, the open row, its conversation and its explorer state); rows are never synced.

>>> import llmops_nb
>>> df = llmops_nb.evaluate(data, predict_fn=app, scorers=[...])  # doctest: +SKIP
>>> llmops_nb.widgets.EvalTable(df, compare_to=baseline_df)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

import traitlets

from ..._config import current_author
from ..._html import tag
from .._base import View as Widget
from .._base import bundle_available, check_height, check_options, esm_path, in_kernel
from .._params import check_range
from .._rpc import Methods
from ..explorer._widget import explorer_methods
from ..sessions._widget import transcript_methods
from ._filters import normalize_filters, order_by, sort_keys
from ._reader import MAX_ROW_IDS, Reader, known_labels, list_runs
from ._sides import Side, check_run_id, side_of, stored_side
from ._snapshot import EvalTableSnapshot, snapshot
from ._sql import View, record_ids
from ._writes import make_dataset, write_feedback

__all__ = ["EvalTable", "EvalTableSnapshot", "display_eval", "eval_table", "evaluation_bundle"]

PAGE_SIZE = 100
MAX_LIMIT = 1000

Compare = Annotated[str | None, "the key of the run to compare with (a run id), or null"]
Row = Annotated[int, "a row number of this table"]
_STATE = {"filters", "sort_by", "sort_desc", "selected_rows", "open_row", "session", "trace_id",
          "selected_span_id", "collapsed_span_ids", "search_text"}

BUNDLE = "eval_table"  # llmops_nb/static/eval_table.js and .css, built from js/eval_table/


class _Sources:
    """The sides one table can show, by key: its own run, a baseline given from Python, and any stored
    run the view picks to compare with (loaded on first use). Thread-safe: requests run on a pool."""

    def __init__(self, candidate: Side, extra: list[Side]) -> None:
        self.candidate = candidate
        self._sides = {candidate.key: candidate, **{s.key: s for s in extra}}
        self._views: dict[str | None, View] = {}
        self._lock = threading.Lock()

    def side(self, key: str) -> Side:
        with self._lock:
            found = self._sides.get(key)
        if found is not None:
            return found
        if key.startswith("frame:"):
            raise LookupError(f"No DataFrame {key!r} is attached to this table; pass it as compare_to=.")
        side = stored_side(check_run_id(key))
        with self._lock:
            return self._sides.setdefault(side.key, side)

    def view(self, compare: Any) -> View:
        if compare is not None and not isinstance(compare, str):
            raise ValueError(f"compare is a run id or null, got {compare!r}.")
        compare = compare or None
        if compare == self.candidate.key:
            raise ValueError("A run cannot be compared with itself: pick another run.")
        with self._lock:
            found = self._views.get(compare)
        if found is not None:
            return found
        made = View(self.candidate, self.side(compare) if compare else None)
        with self._lock:
            return self._views.setdefault(compare, made)

    def extra(self) -> list[Side]:
        with self._lock:
            return [s for k, s in self._sides.items() if k != self.candidate.key and not s.stored]



class EvalTable(Widget, bundle=BUNDLE):
    """An evaluation result as a table: sort, filter, open a row's trace, compare runs, give feedback.

    ``results``: the DataFrame ``evaluate()`` returned, a run id, or ``compare_runs()``'s DataFrame
    (shown as its two runs compared). ``compare_to``: a baseline run (DataFrame or run id) to compare
    with, row by row on ``record_id``. ``author``: who the feedback given in the table is from
    (default: the OS user). ``height``: the most pixels the table grows to by itself: it is as tall as
    its rows up to that, and dragging its bottom corner makes it taller or shorter. The rows checked
    in the table are in ``selected_rows``. Each row shows the app's latency, tokens and cost (and,
    comparing, both runs' with the change). A run over conversations lists each conversation's session and
    turns, and a row opens its transcript (``session``), each turn's trace in the explorer (``trace_id``).

    >>> import llmops_nb
    >>> from llmops_nb.widgets import EvalTable
    >>> EvalTable(df_b, compare_to=df_a)  # doctest: +SKIP
    """

    run_key = traitlets.Unicode(read_only=True).tag(sync=True)
    compare_to = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    filters = traitlets.Dict().tag(sync=True)
    sort_by = traitlets.Unicode("row").tag(sync=True)
    sort_desc = traitlets.Bool(False).tag(sync=True)
    selected_rows = traitlets.List(traitlets.Int()).tag(sync=True)
    open_row = traitlets.Int(None, allow_none=True).tag(sync=True)
    author = traitlets.Unicode("").tag(sync=True)
    height = traitlets.Int(620).tag(sync=True)
    # the conversation open under a row of a run over conversations (its transcript shows while trace_id is
    # None; a turn's "open trace" sets trace_id), None for an ordinary run's row
    session = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    # the trace open under a row, and its explorer's state under TraceExplorer's names
    trace_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    selected_span_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    collapsed_span_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    search_text = traitlets.Unicode("").tag(sync=True)

    def __init__(self, results: Any, *, compare_to: Any = None, author: str | None = None, height: int = 620,
                 **kwargs: Any) -> None:
        check_options("EvalTable", kwargs, _STATE, f"results, compare_to, author, height, {', '.join(sorted(_STATE))}")
        attrs = getattr(results, "attrs", None) or {}
        if compare_to is None and hasattr(results, "columns") and attrs.get("baseline") and attrs.get("candidate"):
            results, compare_to = attrs["candidate"], attrs["baseline"]  # a compare_runs() DataFrame
        candidate = side_of(results)
        extra: list[Side] = []
        baseline_key = None
        if compare_to is not None:
            baseline = side_of(compare_to)
            if baseline.key == candidate.key:
                raise ValueError("compare_to is the same run as the table: pass another run's DataFrame or id.")
            extra.append(baseline)
            baseline_key = baseline.key
        height = check_height(height, 240)
        self._sources = _Sources(candidate, extra)
        view = self._sources.view(baseline_key)
        filters = normalize_filters(kwargs.pop("filters", None), view)
        sort = order_by({"column": kwargs.get("sort_by", "row"), "descending": kwargs.get("sort_desc", False)}, view)
        kwargs["sort_by"], kwargs["sort_desc"] = sort[0], sort[2]
        super().__init__(compare_to=baseline_key, filters=filters, author=current_author(author),
                         height=height, **kwargs)
        self.set_trait("run_key", candidate.key)

    # -- what the view asks -------------------------------------------------------------
    def methods(self) -> Methods:
        return explorer_methods.extend(transcript_methods).extend(Methods({
            "info": self._info, "summary": self._summary, "page": self._page, "row": self._row,
            "row_ids": self._row_ids, "runs": self._runs, "feedback": self._feedback, "to_dataset": self._to_dataset,
            "snapshot": self._snapshot}))

    def _info(self, *, compare: Compare = None) -> dict[str, Any]:
        view = self._sources.view(compare)
        return {"run": view.candidate.facts(), "baseline": view.baseline.facts() if view.baseline else None,
                "scorers": view.scorers, "sorts": sort_keys(view), "columns": list(view.columns), "author": self.author,
                "labels": known_labels(), "frames": [s.facts() for s in self._sources.extra()]}

    def _summary(self, *, compare: Compare = None) -> dict[str, Any]:
        start = time.perf_counter()
        out = Reader(self._sources.view(compare)).summary()
        out["elapsed_ms"] = round((time.perf_counter() - start) * 1000, 1)
        return out

    def _page(self, *, compare: Compare = None, filters: dict[str, Any] | None = None,
              sort: dict[str, Any] | None = None, offset: int = 0, limit: int = PAGE_SIZE,
              as_of: str | None = None) -> dict[str, Any]:
        start = time.perf_counter()
        view = self._sources.view(compare)
        out = Reader(view).page(normalize_filters(filters, view), sort, check_range(offset, "offset", 0),
                                check_range(limit, "limit", 1, MAX_LIMIT))
        # A finished run's rows do not change (feedback is re-read per page); the token lets the view's page
        # cache load pages side by side.
        out["as_of"] = "rows"
        out["elapsed_ms"] = round((time.perf_counter() - start) * 1000, 1)
        return out

    def _row(self, *, compare: Compare = None, row: Row) -> dict[str, Any]:
        return Reader(self._sources.view(compare)).detail(check_range(row, "row", 0))

    def _row_ids(self, *, compare: Compare = None, filters: dict[str, Any] | None = None,
                 sort: dict[str, Any] | None = None) -> dict[str, Any]:
        view = self._sources.view(compare)
        rows = Reader(view).row_ids(normalize_filters(filters, view), sort)
        return {"rows": rows, "capped": len(rows) >= MAX_ROW_IDS}

    def _runs(self, *, compare: Compare = None) -> dict[str, Any]:
        candidate = self._sources.candidate
        return {"runs": list_runs(candidate.run_id or candidate.frame_run_id, [r for r in record_ids(candidate) if r]),
                "frames": [s.facts() for s in self._sources.extra()]}

    def _feedback(self, *, compare: Compare = None, row: Row,
                  value: Annotated[bool | None, "true (thumbs up), false (thumbs down) or null"] = None,
                  label: Annotated[str | None, "text of at most 200 characters"] = None,
                  comment: Annotated[str | None, "text of at most 20,000 characters"] = None,
                  author: Annotated[str | None, "text of at most 200 characters"] = None) -> dict[str, Any]:
        if author is not None and len(author) > 200:
            raise ValueError("author must be text of at most 200 characters.")
        if value is None and not any(isinstance(g, str) and g.strip() for g in (label, comment)):
            raise ValueError("Give a thumbs up or down, a label or a comment.")
        author = author.strip() if author and author.strip() else self.author or None
        return write_feedback(self._sources.view(compare), check_range(row, "row", 0), value, label=label,
                              comment=comment, author=author)

    def _to_dataset(self, *, compare: Compare = None,
                    rows: Annotated[list[int], "a list of row numbers"] | None = None,
                    name: str | None = None, append: bool = True, expectations_from_outputs: bool = False,
                    description: str | None = None) -> dict[str, Any]:
        return make_dataset(self._sources.candidate, rows, name=name, append=append,
                            expectations_from_outputs=expectations_from_outputs, description=description)

    def _snapshot(self, *, compare: Compare = None, filters: dict[str, Any] | None = None,
                  sort: dict[str, Any] | None = None) -> dict[str, str]:
        """The saved output's ``text/html`` and ``text/plain`` for the table as the view shows it: the view
        asks after feedback is stored, so a notebook saved afterwards carries it (``lnb-snapshot``)."""
        return self._snapshot_of(compare, filters, sort)

    # -- display ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, str]:
        """The script-free ``text/html`` and ``text/plain`` of what the table shows now."""
        return self._snapshot_of(self.compare_to, self.filters, {"column": self.sort_by,
                                                                  "descending": self.sort_desc})

    def _snapshot_of(self, compare: Any, filters: Any, sort: Any) -> dict[str, str]:
        # one code path for the mimebundle and the `snapshot` request
        try:
            view = self._sources.view(compare)
            filters = normalize_filters(filters, view)
            order_by(sort, view)
        except (ValueError, LookupError) as exc:
            message = f"EvalTable: {exc}"
            return {"text/plain": message, "text/html": tag("p", message)}
        return snapshot(view, filters, sort)

    def __repr__(self) -> str:
        compare = f", compare_to={self.compare_to!r}" if self.compare_to else ""
        return f"EvalTable({self.run_key!r}{compare})"


def eval_table(results: Any, *, compare_to: Any = None, widget: bool | None = None, **options: Any) -> Any:
    """The view of an evaluation result: the interactive :class:`EvalTable` inside a Jupyter kernel,
    a static table elsewhere (or when the JS bundle is missing).

    >>> import llmops_nb
    >>> llmops_nb.widgets.eval_table(df, compare_to=baseline_df)  # doctest: +SKIP
    """
    want = in_kernel() if widget is None else widget
    if want:
        if bundle_available(BUNDLE):
            return EvalTable(results, compare_to=compare_to, **options)
        from ..._safety import log_once

        log_once("widgets.eval_table_bundle", message="llmops_nb: the eval table's JS bundle is missing "
                 f"({esm_path(BUNDLE)}); showing a static table. Build it: cd js && npm ci && npm run build")
    elif options:
        unknown = sorted(set(options) - {"author", "height"})
        if unknown:
            raise TypeError(f"eval_table() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                            "check the spelling.")
    return EvalTableSnapshot(results, compare_to)


def display_eval(results: Any, *, compare_to: Any = None, **options: Any) -> None:
    """Show an evaluation result under the cell (``llmops_nb.show(df)`` calls this): the EvalTable in a
    notebook, its text summary in a terminal.

    >>> import llmops_nb
    >>> llmops_nb.widgets.display_eval(df)  # doctest: +SKIP
    """
    view = eval_table(results, compare_to=compare_to, **options)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        print(repr(view))
        return
    if get_ipython() is None:
        print(repr(view))
        return
    display(view)


def evaluation_bundle(results: Any) -> dict[str, Any] | None:
    """The renderer of evaluation results (``llmops_nb._display``): what ``evaluate()`` shows under the cell
    when it finishes, inside a Jupyter kernel; None elsewhere (nothing to show)."""
    if not in_kernel():
        return None
    shown = eval_table(results)._repr_mimebundle_()
    return dict(shown[0]) if isinstance(shown, tuple) else shown
