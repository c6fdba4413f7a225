"""Which deployment answers: routing strategies, health, cooldowns, and the order of fallbacks.

The router holds no request: it picks. :class:`Router` keeps per-deployment health (failures in
the last ``cooldown_time``, a cooldown end, calls in flight, a latency average) and answers two
questions the gateway's attempt loop asks: *which group comes next* (:meth:`Router.plan` — the
requested group, then its ``fallbacks``; a prompt that cannot fit any of the group's deployments is
sent to ``context_window_fallbacks`` before anything is sent) and *which deployment of this group
now* (:meth:`Router.pick` — by strategy among those not cooling down and under their rpm/tpm).

Why health is kept here and not in ``models.Model``: a gateway sees several deployments of one
name and must compare them (least busy, fastest, cheapest), which a single model's counters cannot.
LiteLLM's behaviour, which users bring configs for, is kept where it is public: ``allowed_fails``
failures within ``cooldown_time`` cool a deployment down for ``cooldown_time``; a 429 with
``Retry-After`` cools it down for that long at once; ``order`` tiers are tried lowest first.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ._config import GatewayConfig
from ._cost import max_input_tokens, token_prices
from ._types import Deployment, FailureKind

_rng = random.Random()
_LATENCY_WEIGHT = 0.3  # exponential moving average: recent calls count most, one slow call does not dominate


@dataclass
class Health:
    """What the router remembers about one deployment."""

    fails: deque[float] = field(default_factory=deque)  # monotonic times of recent failures
    cooldown_until: float = 0.0
    in_flight: int = 0
    latency_s: float | None = None
    calls: int = 0
    failures: int = 0
    cooldowns: int = 0


@dataclass(frozen=True)
class Step:
    """One group of the plan and why it is tried (``"requested"``, ``"fallback"``, ``"context_window"`` …)."""

    group: str
    reason: str


class Router:
    """Picks deployments for one gateway; thread-safe (the in-kernel client and the server share it)."""

    def __init__(self, config: GatewayConfig, *, clock: Callable[[], float] = time.monotonic,
                 admitted: Callable[[Deployment, int], float | None] | None = None) -> None:
        self.config = config
        self.settings = config.router
        self.groups = config.groups()
        self._clock = clock
        # (deployment, tokens) -> None when under its rpm/tpm, else seconds until it would be
        self._admitted = admitted or (lambda d, tokens: None)
        self._health: dict[str, Health] = {d.id: Health() for d in config.deployments}
        self._lock = threading.Lock()

    # -- the plan: groups in order ----------------------------------------------------------------
    def plan(self, group: str, estimated_input_tokens: int) -> list[Step]:
        """The groups to try, in order: the requested one (or its context-window fallbacks when the
        prompt is too long for every deployment in it), then its fallbacks, each once."""
        settings = self.settings
        steps: list[Step] = []
        seen: set[str] = set()

        def add(name: str, reason: str) -> None:
            if name in seen or name not in self.groups:
                return
            seen.add(name)
            if self.fits(name, estimated_input_tokens):
                steps.append(Step(name, reason))
                for nxt in settings.fallbacks.get(name, ()):
                    add(nxt, "fallback")
            else:
                for nxt in settings.context_window_fallbacks.get(name, ()):
                    add(nxt, "context_window")
        add(group, "requested")
        return steps

    def fits(self, group: str, estimated_input_tokens: int) -> bool:
        """True when some deployment of ``group`` can take a prompt of that many tokens (unknown limit: yes)."""
        for d in self.groups.get(group, ()):
            limit = max_input_tokens(d)
            if limit is None or estimated_input_tokens <= limit:
                return True
        return False

    def fallbacks_for(self, group: str, kind: FailureKind) -> tuple[str, ...]:
        """The groups a failure of this kind sends a request to (besides the plan's general fallbacks)."""
        if kind == "context_window":
            return self.settings.context_window_fallbacks.get(group, ())
        if kind == "content_policy":
            return self.settings.content_policy_fallbacks.get(group, ())
        return ()

    # -- one pick -----------------------------------------------------------------------------------
    def pick(self, group: str, tokens: int, exclude: frozenset[str] = frozenset()) -> tuple[Deployment | None, float]:
        """A deployment of ``group`` to try now, or ``(None, wait)``: seconds until one is available
        (``inf`` when none ever will be, e.g. every one excluded)."""
        now = self._clock()
        ready: list[Deployment] = []
        wait = float("inf")
        with self._lock:
            for d in self.groups.get(group, ()):
                if d.id in exclude:
                    continue
                cooling = self._health[d.id].cooldown_until - now
                if cooling > 0:
                    wait = min(wait, cooling)
                    continue
                ready.append(d)
        admitted: list[Deployment] = []
        for d in ready:
            busy = self._admitted(d, tokens)
            if busy is None:
                admitted.append(d)
            else:
                wait = min(wait, busy)
        if not admitted:
            return None, wait
        tier = min((d.order if d.order is not None else 0) for d in admitted)
        admitted = [d for d in admitted if (d.order if d.order is not None else 0) == tier]
        return self._choose(admitted), 0.0

    def _choose(self, options: list[Deployment]) -> Deployment:
        if len(options) == 1:
            return options[0]
        strategy = self.settings.routing_strategy
        if strategy == "least-busy":
            with self._lock:
                return min(options, key=lambda d: (self._health[d.id].in_flight, _rng.random()))
        if strategy == "latency-based-routing":
            with self._lock:  # untried first (they must be measured), then the fastest
                return min(options, key=lambda d: (self._health[d.id].latency_s or 0.0, _rng.random()))
        if strategy == "cost-based-routing":
            return min(options, key=lambda d: (sum(token_prices(d)), _rng.random()))
        return _rng.choices(options, weights=[max(d.weight, 0.0) or 1e-9 for d in options])[0]

    # -- what happened ------------------------------------------------------------------------------
    def started(self, d: Deployment) -> None:
        with self._lock:
            health = self._health[d.id]
            health.in_flight += 1
            health.calls += 1

    def succeeded(self, d: Deployment, latency_s: float) -> None:
        with self._lock:
            health = self._health[d.id]
            health.in_flight -= 1
            previous = health.latency_s
            health.latency_s = latency_s if previous is None else (
                previous + _LATENCY_WEIGHT * (latency_s - previous))

    def failed(self, d: Deployment, kind: FailureKind, retry_after: float | None) -> bool:
        """Record a failure; True when it started a cooldown of the deployment."""
        now = self._clock()
        settings = self.settings
        with self._lock:
            health = self._health[d.id]
            health.in_flight -= 1
            health.failures += 1
            if kind in ("client", "context_window", "content_policy"):
                return False  # the request's fault, not the deployment's: it stays in rotation
            if kind == "rate_limit" and retry_after is not None:
                health.cooldown_until = max(health.cooldown_until, now + retry_after)
                health.cooldowns += 1
                return True
            fails = health.fails
            fails.append(now)
            while fails and fails[0] < now - settings.cooldown_time:
                fails.popleft()
            if len(fails) > settings.allowed_fails or kind == "auth":
                fails.clear()
                health.cooldown_until = now + settings.cooldown_time
                health.cooldowns += 1
                return True
            return False

    def status(self) -> list[dict[str, object]]:
        """Each deployment's health, for ``Gateway.status()`` and tests."""
        now = self._clock()
        with self._lock:
            return [{"deployment": d.id, "model_name": d.model_name, "in_flight": h.in_flight, "calls": h.calls,
                     "failures": h.failures, "cooldowns": h.cooldowns,
                     "cooling_down_s": round(max(0.0, h.cooldown_until - now), 3),
                     "latency_ms": None if h.latency_s is None else round(h.latency_s * 1000, 3)}
                    for d in self.config.deployments for h in (self._health[d.id],)]
