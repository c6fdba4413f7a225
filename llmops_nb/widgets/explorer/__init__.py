"""The trace explorer, mirrored by ``js/explorer/``: the widget (``_widget``), the reads behind
it (``_data``), the provider messages it shows (``_messages``), what an LLM span's row says
(``_calls``: ``model · operation``, stream and async markers, time to first token), the graph tab's
graph and picks (``_graph``), what a trace displays as (``_bundle``) and its script-free snapshot
(``_snapshot``: the trace read by ``_snapshot_tree``, repeated siblings grouped by ``_snapshot_groups``
as ``groups.js`` groups them, payloads written by ``_snapshot_values``).

Nothing is imported here: anywidget takes ~150 ms to import, so the modules are imported where
used (``llmops_nb.widgets`` is the public surface).
"""
