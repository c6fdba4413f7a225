"""The monitoring dashboard's live view (``llmops_nb.monitor.dashboard``), mirrored by ``js/dashboard/``."""

from ._view import DashboardStatus, live_view

__all__ = ["DashboardStatus", "live_view"]
