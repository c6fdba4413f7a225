"""The trace list (``%llm_traces``), mirrored by ``js/trace_list/``: the widget (``_widget``), its
filters (``_filters``), the paged query (``_query``) and its script-free snapshot (``_snapshot``).

Nothing is imported here (anywidget is slow to import); ``llmops_nb.widgets`` is the public surface.
"""
