"""The eval table, mirrored by ``js/eval_table/``: where rows come from (``_sides``), the SQL over them
(``_sql``, ``_filters``), the reads (``_reader``) and writes (``_writes``) behind the view, value
formatting (``_format``), the widget and its requests (``_widget``) and the snapshot (``_snapshot``).

Nothing is imported here (anywidget is slow to import); ``llmops_nb.widgets`` is the public surface.
"""
