"""A progress bar without tqdm: an ipywidgets bar in a notebook, a ``\\r`` line in a terminal.

Updated only from the thread that called ``evaluate()`` (widgets and
terminals are not thread-safe), a few times a second. Nothing is printed when
output is neither a notebook nor a terminal (CI logs, pytest).
"""

from __future__ import annotations

import sys
import time
from typing import Any

_MIN_INTERVAL_S = 0.1


class Progress:
    """``update(done)`` while running, ``close(status)`` at the end.

    >>> bar = Progress(10, "demo", enabled=False)
    >>> bar.update(5); bar.close("FINISHED", 10)
    """

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total, self.label = total, label
        self.started = time.monotonic()
        self._last = 0.0
        self._done = -1
        self._widgets: Any = None
        self._mode = _mode() if enabled and total > 0 else "none"
        if self._mode == "widget":
            try:
                self._start_widget()
            except Exception:  # noqa: BLE001 - fall back to text if the widget cannot be shown
                self._mode = "text"

    def _start_widget(self) -> None:
        import ipywidgets
        from IPython.display import display

        bar = ipywidgets.IntProgress(value=0, min=0, max=self.total, bar_style="info",
                                     layout=ipywidgets.Layout(width="40%"))
        text = ipywidgets.HTML(value=self._text(0))
        self._widgets = (bar, text)
        display(ipywidgets.HBox([bar, text]))

    def update(self, done: int, errors: int = 0, force: bool = False) -> None:
        now = time.monotonic()
        if self._mode == "none" or (done == self._done and not force) or (
                not force and now - self._last < _MIN_INTERVAL_S):
            return
        self._last, self._done = now, done
        line = self._text(done, errors)
        if self._mode == "widget":
            bar, text = self._widgets
            bar.value = done
            text.value = line
        elif self._mode == "text":
            sys.stderr.write("\r" + line + " " * 8)
            sys.stderr.flush()

    def close(self, status: str, done: int, errors: int = 0) -> None:
        if self._mode == "none":
            return
        self.update(done, errors, force=True)
        if self._mode == "widget":
            bar, text = self._widgets
            bar.bar_style = {"FINISHED": "success", "INTERRUPTED": "warning"}.get(status, "danger")
            text.value = self._text(self._done, errors, status)
        elif self._mode == "text":
            sys.stderr.write("\r" + self._text(self._done, errors, status) + " " * 8 + "\n")
            sys.stderr.flush()

    def _text(self, done: int, errors: int = 0, status: str | None = None) -> str:
        elapsed = time.monotonic() - self.started
        parts = [f"{self.label}: {max(done, 0)}/{self.total} rows", f"{elapsed:.1f} s"]
        if status is None and 0 < done < self.total:
            parts.append(f"~{elapsed / done * (self.total - done):.0f} s left")
        if errors:
            parts.append(f"{errors} errors")
        if status and status != "FINISHED":
            parts.append(status.lower())
        if self._mode == "text" and status is None:
            filled = int(20 * max(done, 0) / self.total)
            return f"[{'#' * filled}{'.' * (20 - filled)}] " + " · ".join(parts)
        return " · ".join(parts)


def _mode() -> str:
    shell = None
    if "IPython" in sys.modules:
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except Exception:  # noqa: BLE001
            shell = None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        try:
            import ipywidgets  # noqa: F401
        except ImportError:
            return "text"
        return "widget"
    stream = sys.stderr
    return "text" if stream is not None and hasattr(stream, "isatty") and stream.isatty() else "none"
