"""Tracing core: spans, context, recording. Imports neither DuckDB, pandas nor IPython."""

from ._api import span, start_span, trace, use_span
from ._context import get_current_span, install_thread_propagation
from ._recorder import flush, recorder
from ._span import Span, SpanKind

install_thread_propagation()

__all__ = ["Span", "SpanKind", "flush", "get_current_span", "recorder", "span", "start_span", "trace", "use_span"]
