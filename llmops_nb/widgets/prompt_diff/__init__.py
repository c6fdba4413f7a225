"""The prompt diff view, mirrored by ``js/prompt_diff/``: the widget and its mimebundle (``_widget``).

Nothing is imported here (anywidget is slow to import); ``llmops_nb.widgets`` is the public surface.
"""
