"""The sessions view (``%llm_sessions``), mirrored by ``js/sessions/``: the widget (``_widget``), the pages
of sessions and of a session's turns (``_query``) and its script-free snapshot (``_snapshot``).

Nothing is imported here (anywidget is slow to import); ``llmops_nb.widgets`` is the public surface.
"""
