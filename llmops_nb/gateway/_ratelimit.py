"""Requests- and tokens-per-minute limits over sliding 60-second windows, shared by every request thread.

A *subject* is what a limit applies to: ``key:<id>``, ``user:<id>``, ``team:<id>``,
``project:<id>`` or ``deployment:<id>``. Each keeps the requests it admitted in the last 60
seconds (a deque, oldest first) and their running token sum, so a check is O(1) amortized: every
request is appended once and evicted once. A request is admitted when one more request stays within
``rpm`` and its estimated tokens (the input upper bound plus the maximum output, from
``_cost.py``) stay within ``tpm``; after the call :meth:`RateLimiter.adjust` replaces the estimate
with the tokens used, so ``tpm`` counts real usage.

Memory is bounded: a subject's deque holds at most the requests of one minute (at most ``rpm``),
and subjects idle for a minute are dropped by a sweep that runs every ``_SWEEP_EVERY`` calls.
One lock guards everything: an admission is a few dict and deque operations, far below the cost
of contending locks per subject.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from ._errors import GatewayRateLimitError

__all__ = ["WINDOW_S", "RateLimiter"]

#: the sliding window, in seconds
WINDOW_S = 60.0
_SWEEP_EVERY = 4096
_T, _TOKENS, _ESTIMATE, _REQUESTS = 0, 1, 2, 3  # an entry: [time, tokens, estimate pending adjust or -1, 1|0]

Limits = Sequence[tuple[str, "int | None", "int | None"]]


class _Window:
    """One subject's last minute: its entries, their request count and token sum, and the entries
    still waiting for :meth:`RateLimiter.adjust`, per estimate (oldest first)."""

    __slots__ = ("entries", "pending", "requests", "tokens")

    def __init__(self) -> None:
        self.entries: deque[list[float]] = deque()
        self.pending: dict[float, deque[list[float]]] = {}
        self.requests = 0
        self.tokens = 0.0

    def evict(self, now: float) -> None:
        horizon = now - WINDOW_S
        entries = self.entries
        while entries and entries[0][_T] <= horizon:
            entry = entries.popleft()
            self.requests -= int(entry[_REQUESTS])
            self.tokens -= entry[_TOKENS]
            estimate = entry[_ESTIMATE]
            if estimate >= 0:
                # entries leave in time order and pending ones were queued in time order too, so an
                # expiring pending entry is the oldest of its estimate: the adjust that comes too late
                # (a call longer than the window) then finds nothing and changes nothing
                queue = self.pending[estimate]
                queue.popleft()
                if not queue:
                    del self.pending[estimate]
        if not entries:
            self.tokens = 0.0  # float drift from adjustments stops here

    def wait(self, now: float, rpm: int | None, tpm: int | None, tokens: int) -> tuple[str, int, float] | None:
        """``None`` when one more request of ``tokens`` fits, else (limit name, limit, seconds until it fits)."""
        entries = self.entries
        if rpm is not None and self.requests + 1 > rpm:
            if rpm <= 0:
                return "rpm", rpm, math.inf
            # the (requests - rpm + 1)-th counted request from the oldest must leave the window
            need, seen = self.requests - rpm + 1, 0
            for entry in entries:
                seen += int(entry[_REQUESTS])
                if seen >= need:
                    return "rpm", rpm, max(entry[_T] + WINDOW_S - now, 0.0)
        if tpm is not None and self.tokens + tokens > tpm:
            if tokens > tpm:
                return "tpm", tpm, math.inf  # larger than the limit on its own: no wait makes it fit
            excess = self.tokens + tokens - tpm
            for entry in entries:
                excess -= entry[_TOKENS]
                if excess <= 0:
                    return "tpm", tpm, max(entry[_T] + WINDOW_S - now, 0.0)
            return "tpm", tpm, WINDOW_S  # pragma: no cover - the entries' tokens sum to self.tokens
        return None

    def add(self, now: float, tokens: int) -> None:
        entry = [now, float(tokens), float(tokens), 1.0]
        self.entries.append(entry)
        self.pending.setdefault(float(tokens), deque()).append(entry)
        self.requests += 1
        self.tokens += tokens


class RateLimiter:
    """Sliding-window rpm/tpm limits per subject; thread-safe.

    >>> limiter = RateLimiter()
    >>> limiter.admit("user:ana", rpm=2, tpm=None, tokens=10)
    >>> limiter.admit("user:ana", rpm=2, tpm=None, tokens=10)
    >>> limiter.try_admit("user:ana", rpm=2, tpm=None, tokens=10) > 0
    True
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # wall-clock seconds: resets_at is told to clients as a UTC time
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._calls = 0

    def admit(self, subject: str, rpm: int | None, tpm: int | None, tokens: int) -> None:
        """Count one request of ``tokens`` estimated tokens against ``subject``, or raise
        :class:`GatewayRateLimitError` (and count nothing) when it would pass ``rpm`` or ``tpm``."""
        self.admit_all([(subject, rpm, tpm)], tokens)

    def admit_all(self, limits: Limits, tokens: int) -> None:
        """:meth:`admit` under every ``(subject, rpm, tpm)`` at once: all count the request or none does.

        The error names the limit with the longest wait (the one that decides when a retry can pass).
        """
        now = self._clock()
        with self._lock:
            worst: tuple[float, str, str, int] | None = None
            windows = []
            for subject, rpm, tpm in limits:
                if rpm is None and tpm is None:
                    continue
                window = self._window(subject, now)
                refused = window.wait(now, rpm, tpm, tokens)
                if refused is not None and (worst is None or refused[2] > worst[0]):
                    worst = (refused[2], subject, refused[0], refused[1])
                windows.append(window)
            if worst is None:
                for window in windows:
                    window.add(now, tokens)
                self._maybe_sweep(now)
                return
        wait, subject, name, limit = worst
        scope, _, scope_id = subject.partition(":")
        retry = wait if math.isfinite(wait) else WINDOW_S
        raise GatewayRateLimitError(scope, scope_id, limit_name="rpm" if name == "rpm" else "tpm", limit=limit,
                                    resets_at=datetime.fromtimestamp(now + retry, timezone.utc), retry_after=retry)

    def try_admit(self, subject: str, rpm: int | None, tpm: int | None, tokens: int) -> float | None:
        """A probe that counts nothing: ``None`` when a request of ``tokens`` would be admitted now, else
        the seconds until it would be (``inf``: never, it is over ``tpm`` on its own).

        The router asks it of every candidate deployment, then :meth:`admit`\\ s the one it picks.
        """
        if rpm is None and tpm is None:
            return None
        now = self._clock()
        with self._lock:
            window = self._windows.get(subject)
            if window is None:
                return None if (rpm is None or rpm >= 1) and (tpm is None or tokens <= tpm) else math.inf
            window.evict(now)
            refused = window.wait(now, rpm, tpm, tokens)
        return None if refused is None else refused[2]

    def adjust(self, subject: str, estimated: int, actual: int) -> None:
        """Replace a request's ``estimated`` tokens with the ``actual`` ones it used (after its call).

        Among ``subject``'s requests admitted with that estimate and not yet adjusted, the oldest is
        taken: equal estimates are interchangeable for the count. A request already out of the window
        (or of a subject without limits) is left alone.
        """
        now = self._clock()
        with self._lock:
            window = self._windows.get(subject)
            if window is None:
                return
            window.evict(now)
            queue = window.pending.get(float(estimated))
            if not queue:
                return
            entry = queue.popleft()
            if not queue:
                del window.pending[float(estimated)]
            entry[_ESTIMATE] = -1
            window.tokens += actual - entry[_TOKENS]
            entry[_TOKENS] = float(actual)

    def usage(self, subject: str) -> tuple[int, int]:
        """``(requests, tokens)`` counted against ``subject`` in the last 60 seconds."""
        now = self._clock()
        with self._lock:
            window = self._windows.get(subject)
            if window is None:
                return 0, 0
            window.evict(now)
            return window.requests, round(window.tokens)

    def _window(self, subject: str, now: float) -> _Window:
        window = self._windows.get(subject)
        if window is None:
            window = self._windows[subject] = _Window()
        else:
            window.evict(now)
        return window

    def _maybe_sweep(self, now: float) -> None:
        self._calls += 1
        if self._calls % _SWEEP_EVERY:
            return
        for subject in list(self._windows):
            window = self._windows[subject]
            window.evict(now)
            if not window.entries:
                del self._windows[subject]
