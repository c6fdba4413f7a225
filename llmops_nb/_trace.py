"""``Trace``: one trace read back from the store, with a rich notebook display."""

from __future__ import annotations

from typing import Any


class Trace:
    """A trace in the store. ``info`` is its row of ``traces()``; ``spans`` its spans (a DataFrame).

    Both are read when first used and cached; call ``refresh()`` to read again.
    """

    def __init__(self, trace_id: str, info: dict[str, Any] | None = None) -> None:
        self.trace_id = trace_id
        self._info = info
        self._spans: Any = None

    @property
    def info(self) -> dict[str, Any]:
        if self._info is None:
            from .store._queries import trace_row

            row = trace_row(self.trace_id)
            if row is None:
                raise LookupError(f"Trace {self.trace_id} is not in the store (yet): its spans may still be "
                                  "in memory; call llmops_nb.flush() first.")
            self._info = row
        return self._info

    @property
    def spans(self) -> Any:
        if self._spans is None:
            from .store._queries import spans

            self._spans = spans(self.trace_id)
        return self._spans

    def refresh(self) -> Trace:
        self._info = None
        self._spans = None
        return self

    def __getattr__(self, name: str) -> Any:
        # trace.status, trace.span_count, trace.cost_usd ... read from info
        if name.startswith("_"):
            raise AttributeError(name)
        info = self.info
        if name in info:
            return info[name]
        raise AttributeError(f"Trace has no attribute {name!r}; its fields are: {', '.join(info)}.")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Trace) and other.trace_id == self.trace_id

    def __hash__(self) -> int:
        return hash(self.trace_id)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from . import _display

        return _display.mimebundle(self)

    def __repr__(self) -> str:
        from . import _display

        try:
            return _display.summary_text(self)
        except Exception:  # noqa: BLE001 - a repr must not raise
            return f"<Trace {self.trace_id}>"


def get_trace(trace_id: str) -> Trace:
    """Read one trace from the store.

    >>> import llmops_nb
    >>> t = llmops_nb.get_trace(llmops_nb.traces().trace_id[0])  # doctest: +SKIP
    >>> t.status, len(t.spans)  # doctest: +SKIP
    ('OK', 4)
    """
    trace = Trace(getattr(trace_id, "trace_id", trace_id))
    trace.info  # noqa: B018 - fail now, with a clear message, if it does not exist
    return trace
