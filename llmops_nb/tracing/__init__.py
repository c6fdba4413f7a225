"""Tracing core: spans, context, records and the sink protocol. Imports neither DuckDB, pandas nor IPython.

Nothing here touches the process on import: the ``ThreadPoolExecutor`` hook that carries the
current span into worker threads is installed when tracing is first used (``@trace``,
``span()``, ``%load_ext llmops_nb``, ``autolog()``), see ``_context.install_thread_propagation``.
"""

from ._api import span, start_span, trace, use_span
from ._context import get_current_span, install_thread_propagation
from ._sink import flush
from ._span import Span, SpanKind

__all__ = ["Span", "SpanKind", "flush", "get_current_span", "install_thread_propagation", "span", "start_span",
           "trace", "use_span"]
