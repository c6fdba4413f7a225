"""Where alert events go: the notebook, a Python callback, webhooks — each on its own.

A channel that raises or hangs never stops the others or the caller: webhooks are sent in
daemon threads at once, each bounded by its timeout and one retry (and the wait for all of them
by the longest of those), while the notebook notice and callbacks run in the caller's thread (a
callback is the user's code: it sees the caller's context, and should be quick). Every delivery
ends as a record ``{channel, event, ok, error, at}`` for the incident's ``deliveries``; a failed
one is also logged, once, without the webhook's URL.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._errors import did_you_mean
from .._html import tag
from .._redact import redact_text
from .._safety import logger
from ._webhook import DeliveryError, Webhook

if TYPE_CHECKING:
    from ._alerts import AlertEvent

_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}
_COLORS = {"fired": "#cf222e", "resolved": "#1a7f37"}


class Log:
    """A line in the ``llmops_nb`` log: at the rule's severity when it fires, INFO when it resolves."""

    label = "log"

    def send(self, event: AlertEvent) -> None:
        level = _LEVELS.get(event.severity, logging.WARNING) if event.state == "fired" else logging.INFO
        logger.log(level, "%s", notice_text(event))


class Notebook:
    """The notebook: an escaped HTML notice under the running cell; outside IPython, a log line."""

    label = "notebook"

    def send(self, event: AlertEvent) -> None:
        shell = None
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:
            pass
        if shell is None:
            Log().send(event)
            return
        from IPython.display import display

        display({"text/plain": notice_text(event), "text/html": notice_html(event)}, raw=True)


class Callback:
    """A Python function called with each :class:`AlertEvent`."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn
        name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
        self.label = f"callback:{name}"

    def send(self, event: AlertEvent) -> None:
        self.fn(event)


def notice_text(event: AlertEvent) -> str:
    return f"llmops_nb alert {event.state.upper()} [{event.severity}] {event.rule}: {event.message}"


def notice_html(event: AlertEvent) -> str:
    """The notebook's notice: every value escaped (group values come from traces)."""
    color = _COLORS.get(event.state, "inherit")
    return tag("div", tag("b", "llmops_nb alert ", event.state.upper(), style=f"color:{color}"),
               f" [{event.severity}] ", tag("b", event.rule), ": ", event.message,
               tag("span", f" (incident {event.incident_id})", style="opacity:.6"),
               class_="lnb-alert", style=f"border-left:4px solid {color};padding:4px 8px;margin:4px 0")


def channels_of(specs: Any) -> list[Any]:
    """``channels=`` as channel objects: ``"notebook"``, ``"log"``, a callable, a ``Webhook`` or an
    ``"https://..."`` string (channel objects pass through)."""
    if isinstance(specs, (str, *_CHANNELS)) or callable(specs):
        specs = [specs]
    if not isinstance(specs, Iterable):
        raise TypeError(f"channels is a list of 'notebook', callables, Webhook(url) objects or https:// URLs; "
                        f"got {type(specs).__name__}.")
    found: list[Any] = []
    for spec in specs:
        if isinstance(spec, _CHANNELS):
            found.append(spec)
        elif isinstance(spec, str) and spec.startswith(("https://", "http://")):
            found.append(Webhook(spec))
        elif spec == "notebook":
            found.append(Notebook())
        elif spec == "log":
            found.append(Log())
        elif callable(spec):
            found.append(Callback(spec))
        else:
            shown = "a URL without https://" if isinstance(spec, str) and "/" in spec else repr(spec)
            raise ValueError(f"Unknown alert channel {shown}.{did_you_mean(spec, ['notebook', 'log'])} A channel "
                             "is 'notebook', 'log', a function taking the event, Webhook(url, timeout=5) or an "
                             "'https://...' URL.")
    return found


_CHANNELS = (Webhook, Notebook, Log, Callback)


def deliver(events: list[AlertEvent], channels: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """Send every event to every channel; the delivery records per incident id, in channel order."""
    records: dict[str, list[dict[str, Any]]] = {event.incident_id: [] for event in events}
    if not events or not channels:
        return records
    outcomes: dict[tuple[int, int], dict[str, Any]] = {}
    threads = []
    started = time.monotonic()
    for i, event in enumerate(events):
        for j, channel in enumerate(channels):
            if isinstance(channel, Webhook):
                thread = threading.Thread(target=_send, args=(channel, event, outcomes, (i, j)), daemon=True,
                                          name="llmops_nb-alert-webhook")
                thread.start()
                threads.append((thread, channel, (i, j)))
    for i, event in enumerate(events):
        for j, channel in enumerate(channels):
            if not isinstance(channel, Webhook):
                _send(channel, event, outcomes, (i, j))
    # one deadline for all: they ran side by side, so the slowest possible one bounds the wait
    deadline = started + max((channel.longest_s for _, channel, _ in threads), default=0.0) + 1.0
    for thread, channel, key in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if key not in outcomes:  # a receiver that trickles bytes defeats per-phase timeouts: stop waiting
            late = _record(channel, events[key[0]],
                           f"no answer within {channel.longest_s + 1.0:g} s (timeout and one retry)")
            if outcomes.setdefault(key, late) is late:
                _log_failure(channel, events[key[0]], late["error"])
    for i, event in enumerate(events):
        records[event.incident_id].extend(outcomes[(i, j)] for j in range(len(channels)))
    return records


def _send(channel: Any, event: AlertEvent, outcomes: dict[tuple[int, int], dict[str, Any]],
          key: tuple[int, int]) -> None:
    try:
        channel.send(event)
    except DeliveryError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - the user's callback may raise anything; the others still go
        error = redact_text(f"{type(exc).__name__}: {exc}")[:500]
    else:
        outcomes.setdefault(key, _record(channel, event, None))
        return
    failed = _record(channel, event, error)
    if outcomes.setdefault(key, failed) is failed:
        _log_failure(channel, event, error)


def _record(channel: Any, event: AlertEvent, error: str | None) -> dict[str, Any]:
    return {"channel": channel.label, "event": event.state, "ok": error is None, "error": error,
            "at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def _log_failure(channel: Any, event: AlertEvent, error: str) -> None:
    logger.warning("llmops_nb: alert %r (%s, incident %s) was not delivered to %s: %s. The failure is kept in "
                   "llmops_nb.monitor.alerts().deliveries.", event.rule, event.state, event.incident_id,
                   channel.label, error)
