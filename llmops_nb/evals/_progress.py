"""A progress bar without tqdm: an ipywidgets bar in a notebook, a ``\\r`` line in a terminal.

Updated only from the thread that called ``evaluate()`` (widgets and
terminals are not thread-safe), a few times a second. Nothing is printed when
output is neither a notebook nor a terminal (CI logs, pytest).

A finished bar leaves one line of text: the bar is displayed with a ``display_id``, and on
``close()`` that output is replaced by the summary as ``text/plain`` and escaped ``text/html``
and the widgets are closed. A saved notebook, an export or GitHub then shows
``run-1: 6/6 rows · 0.4 s`` where it would show ``HBox(children=(IntProgress(...`` or nothing.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from .._html import escape

_MIN_INTERVAL_S = 0.1
_COLOURS = {"INTERRUPTED": "#9a6700", "FAILED": "#cf222e"}  # a finished run's line stays plain


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
        self._shown: Any = None  # the display handle of the bar's output, replaced by the summary at close()
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
        box = ipywidgets.HBox([bar, text])
        self._widgets = (bar, text, box)
        self._shown = display(box, display_id=True)

    def update(self, done: int, errors: int = 0, force: bool = False) -> None:
        now = time.monotonic()
        if self._mode == "none" or (done == self._done and not force) or (
                not force and now - self._last < _MIN_INTERVAL_S):
            return
        self._last, self._done = now, done
        line = self._text(done, errors)
        if self._mode == "widget":
            bar, text, _ = self._widgets
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
            self._leave_summary(self._text(self._done, errors, status), status)
        elif self._mode == "text":
            sys.stderr.write("\r" + self._text(self._done, errors, status) + " " * 8 + "\n")
            sys.stderr.flush()

    def _leave_summary(self, line: str, status: str) -> None:
        """Replace the bar's output by ``line`` and close its widgets (a closed widget's saved output
        would be an empty view, or its repr)."""
        colour = _COLOURS.get(status)
        style = f' style="color:{colour}"' if colour else ""
        try:
            try:
                self._shown.update({"text/plain": line, "text/html": f'<div class="llmops-nb-progress"{style}>'
                                    f"{escape(line)}</div>"}, raw=True)
            finally:  # the widgets go even when the output could not be replaced
                for widget in self._widgets:
                    widget.close()
        except Exception as exc:  # noqa: BLE001 - the run's result matters more than its bar
            from .._safety import log_once

            log_once("evals.progress", exc)

    def _text(self, done: int, errors: int = 0, status: str | None = None) -> str:
        elapsed = time.monotonic() - self.started
        parts = [f"{self.label}: {max(done, 0)}/{self.total} rows", f"{elapsed:.1f} s"]
        if status is None and 0 < done < self.total:
            parts.append(f"~{elapsed / done * (self.total - done):.0f} s left")
        if errors:
            parts.append(f"{errors} error{'' if errors == 1 else 's'}")
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
