"""Budgets in USD per key, user, team or project over UTC calendar windows, enforced by reservation.

The rule that must never break: a request's *maximum* cost (``_cost.max_cost``) is reserved, under
one lock, against every budget that applies before anything is sent; a request that would take any
``reject`` budget past its ``max_budget`` is refused and reserves nothing. After the call,
:meth:`BudgetLedger.settle` swaps the reservation for the actual cost. So ``spent + reserved ≤
max_budget`` holds at every moment, and settled spend never passes the cap however many requests
run at once — unlike accounting after the fact, where concurrent requests all see room and overshoot.

Money is counted in integer nano-dollars, so a thousand reservations of $0.001 fill a $1 budget
exactly (no float drift either way); amounts round up to the next nano-dollar.

Windows are UTC calendar windows: ``daily`` from midnight, ``weekly`` from Monday 00:00,
``monthly`` from the 1st 00:00; ``total`` never resets (a virtual key's ``max_budget`` without a
``budget_duration``, as in LiteLLM). A reservation settles in the window it was made in: one made
at 23:59 and settled at 00:01 counts for the day that ended, as the request's trace does (its
start time), so the store and the ledger agree. Spend from before this process started comes from
the store (:func:`spent_from_store`, one query over the gateway's request spans) via
:meth:`BudgetLedger.seed`. Processes sharing a store do not see each other's reservations in flight,
only what reached the store: run one gateway per store for hard caps.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .._safety import log_once
from ._errors import BudgetExceededError
from ._types import SCOPES, GatewayRequest, VirtualKey

if TYPE_CHECKING:
    from ._config import BudgetRule

__all__ = ["WINDOWS", "BudgetLedger", "Reservation", "normalize_window", "spent_from_store", "window_bounds"]

logger = logging.getLogger("llmops_nb.gateway")

WINDOWS = ("daily", "weekly", "monthly", "total")
_ALIASES = {"1d": "daily", "24h": "daily", "day": "daily", "7d": "weekly", "1w": "weekly", "week": "weekly",
            "30d": "monthly", "1mo": "monthly", "month": "monthly", "never": "total"}
_NANO = 1_000_000_000
#: a budget that never resets still needs a time for the error's resets_at
_NEVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
Spend = dict[tuple[str, str, float], float]


def normalize_window(window: str | None) -> str:
    """``daily`` | ``weekly`` | ``monthly`` | ``total`` from a budget_duration (``"7d"`` → weekly, None → total)."""
    if window is None or window == "":
        return "total"
    name = _ALIASES.get(window.strip().lower(), window.strip().lower())
    if name not in WINDOWS:
        raise ValueError(f"budget window {window!r} is not one of daily, weekly, monthly (or 1d, 7d, 30d).")
    return name


def window_bounds(window: str, now: float) -> tuple[float, float]:
    """The UTC calendar window holding ``now`` (epoch seconds): ``(start, reset)`` in epoch seconds.

    >>> start, reset = window_bounds("weekly", datetime(2026, 12, 6, 15, tzinfo=timezone.utc).timestamp())
    >>> datetime.fromtimestamp(start, timezone.utc).isoformat(), datetime.fromtimestamp(reset, timezone.utc).date()
    ('2026-11-30T00:00:00+00:00', datetime.date(2026, 12, 7))
    """
    name = normalize_window(window)
    if name == "total":
        return 0.0, math.inf
    day = datetime.fromtimestamp(now, timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if name == "daily":
        start, reset = day, day + timedelta(days=1)
    elif name == "weekly":
        start = day - timedelta(days=day.weekday())
        reset = start + timedelta(days=7)
    else:
        start = day.replace(day=1)
        after = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        reset = start.replace(year=after[0], month=after[1])
    return start.timestamp(), reset.timestamp()


def _nano(usd: float) -> int:
    # round up, less a hair so that 0.1 * 1e9 = 100000000.00000001 stays 100000000
    return max(0, math.ceil(float(usd) * _NANO - 1e-6))


def _iso(epoch: float) -> str | None:
    return None if math.isinf(epoch) else datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Account:
    """Spend of one (scope, id, window) in its current window; rules of that triple share it."""

    __slots__ = ("reserved", "reset", "scope", "scope_id", "spent", "start", "window")

    def __init__(self, scope: str, scope_id: str, window: str) -> None:
        self.scope, self.scope_id, self.window = scope, scope_id, window
        self.start, self.reset = 0.0, -math.inf  # rolled into the current window on first use
        self.spent = self.reserved = 0


class _Binding:
    """One rule applied to one id (a ``"*"`` rule gets one per id it meets)."""

    __slots__ = ("account", "action", "alerted", "limit", "rule", "scope_id")

    def __init__(self, rule: BudgetRule, scope_id: str, account: _Account) -> None:
        self.rule, self.scope_id, self.account = rule, scope_id, account
        self.limit = _nano(rule.max_budget) if math.isfinite(rule.max_budget) else math.inf
        self.action = rule.action
        self.alerted = math.nan  # the window start an alert was sent for


class Reservation:
    """Money held for one request until :meth:`BudgetLedger.settle` (``amount`` in USD)."""

    __slots__ = ("_accounts", "_nano", "amount", "settled")

    def __init__(self, amount: float, nano: int, accounts: tuple[tuple[_Account, float], ...]) -> None:
        self.amount, self._nano, self._accounts, self.settled = amount, nano, accounts, False

    @property
    def budgeted(self) -> bool:
        """True when some budget (reject or alert) holds this request's amount."""
        return bool(self._accounts)

    def __repr__(self) -> str:
        state = " (settled)" if self.settled else ""
        return f"<Reservation ${self.amount:.6f} on {len(self._accounts)} budgets{state}>"


class BudgetLedger:
    """Spend and reservations per budget; thread-safe, a few microseconds per reserve/settle.

    ``rules``: the config's budgets (``BudgetRule``: scope, scope_id, max_budget, window, action, line).
    ``on_alert(event)`` is called (outside the lock) once per alert rule, id and window, when a request
    takes spend + reservations past the rule's ``max_budget``; without it a warning is logged.
    """

    def __init__(self, rules: Sequence[BudgetRule], *, clock: Callable[[], float] = time.time,
                 on_alert: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._clock = clock
        self._on_alert = on_alert
        self._lock = threading.Lock()
        self._exact: dict[tuple[str, str], list[BudgetRule]] = {}
        self._star: dict[str, list[BudgetRule]] = {}
        for rule in rules:
            if rule.scope_id == "*":
                self._star.setdefault(rule.scope, []).append(rule)
            else:
                self._exact.setdefault((rule.scope, str(rule.scope_id)), []).append(rule)
        self._accounts: dict[tuple[str, str, str], _Account] = {}
        self._bindings: dict[tuple[int, str], _Binding] = {}
        self._key_rules: dict[str, BudgetRule] = {}
        self._seeds: dict[tuple[str, str, float], int] = {}
        with self._lock:  # named budgets show in snapshot() before their first request
            for (_, scope_id), named in self._exact.items():
                for rule in named:
                    self._binding(rule, scope_id)

    # -- which budgets apply ---------------------------------------------------------------------
    def applicable(self, request: GatewayRequest) -> list[tuple[BudgetRule, str]]:
        """The rules that apply to ``request``, each with the id it applies to (a ``"*"`` rule's is the request's)."""
        with self._lock:
            return [(b.rule, b.scope_id) for b in self._applicable(request)]

    def _applicable(self, request: GatewayRequest) -> list[_Binding]:
        key = request.key
        found: list[_Binding] = []
        for scope in SCOPES:
            value = request.scope_value(scope)
            if value is None:
                continue
            for rule in self._exact.get((scope, value), ()):
                found.append(self._binding(rule, value))
            for rule in self._star.get(scope, ()):
                found.append(self._binding(rule, value))
        if key is not None and key.max_budget is not None:
            found.append(self._binding(self._key_rule(key), key.key_id))
        return found

    def _key_rule(self, key: VirtualKey) -> BudgetRule:
        """The budget a virtual key carries itself: reject, over its budget_duration (none: never resets)."""
        window = normalize_window(key.budget_duration)
        rule = self._key_rules.get(key.key_id)
        if rule is None or rule.max_budget != key.max_budget or rule.window != window:
            from ._config import BudgetRule

            if rule is not None:
                self._bindings.pop((id(rule), key.key_id), None)
            rule = self._key_rules[key.key_id] = BudgetRule(scope="key", scope_id=key.key_id,
                                                            max_budget=float(key.max_budget or 0.0), window=window,
                                                            action="reject", line=None)
        return rule

    def _binding(self, rule: BudgetRule, scope_id: str) -> _Binding:
        found = self._bindings.get((id(rule), scope_id))
        if found is None or found.rule is not rule:
            window = normalize_window(rule.window)
            account = self._accounts.get((rule.scope, scope_id, window))
            if account is None:
                account = self._accounts[(rule.scope, scope_id, window)] = _Account(rule.scope, scope_id, window)
            found = self._bindings[(id(rule), scope_id)] = _Binding(rule, scope_id, account)
        return found

    def _current(self, account: _Account, now: float) -> _Account:
        if now >= account.reset:
            # a new window: reservations still in flight settle into the one they were made in
            account.start, account.reset = window_bounds(account.window, now)
            account.spent = self._seeds.get((account.scope, account.scope_id, account.start), 0)
            account.reserved = 0
        return account

    # -- reserve and settle ----------------------------------------------------------------------
    def reserve(self, request: GatewayRequest, amount: float) -> Reservation:
        """Hold ``amount`` USD against every budget of ``request``, or raise :class:`BudgetExceededError`
        naming the budget with the least room left (and hold nothing)."""
        nano = _nano(amount)
        key = request.key
        if not self._exact and not self._star and (key is None or key.max_budget is None):
            return Reservation(amount, nano, ())  # no budget anywhere: nothing to hold or to lock
        now = self._clock()
        with self._lock:
            bindings = self._applicable(request)
            tightest: _Binding | None = None
            alerts: list[_Binding] = []
            for binding in bindings:
                account = self._current(binding.account, now)
                if account.spent + account.reserved + nano <= binding.limit:
                    continue
                if binding.action == "alert":
                    if binding.alerted != account.start:
                        alerts.append(binding)
                elif tightest is None or _room(binding) < _room(tightest):
                    tightest = binding
            if tightest is not None:
                raise _exceeded(tightest, amount)
            accounts = tuple(dict.fromkeys(b.account for b in bindings))  # rules sharing an account hold once
            for account in accounts:
                account.reserved += nano
            reservation = Reservation(amount, nano, tuple((a, a.start) for a in accounts))
            events = []
            for binding in alerts:
                binding.alerted = binding.account.start
                events.append(_event(binding, amount))
        for event in events:  # outside the lock: a hook may be slow, or call snapshot()
            self._alert(event)
        return reservation

    def settle(self, reservation: Reservation, actual_cost: float) -> None:
        """Release ``reservation`` and count ``actual_cost`` USD as spent, in the window it was made in.
        Settling twice does nothing the second time."""
        actual = _nano(actual_cost)
        if not reservation._accounts:
            reservation.settled = True
            return
        with self._lock:
            if reservation.settled:
                return
            reservation.settled = True
            for account, start in reservation._accounts:
                if account.start == start:  # else that window is over and its totals were dropped
                    account.reserved -= reservation._nano
                    account.spent += actual

    def release(self, reservation: Reservation) -> None:
        """Give the reservation back unspent (the request never reached an upstream)."""
        self.settle(reservation, 0.0)

    # -- the store's view and reports ------------------------------------------------------------
    def seed(self, spent: Mapping[tuple[str, str, float], float]) -> None:
        """Start from the store's spend: ``{(scope, scope_id, window_start): usd}`` (:func:`spent_from_store`).

        A budget's spend becomes the larger of what this process counted and what the store says, so
        seeding late never forgets a settle that has not reached the store yet.
        """
        with self._lock:
            for (scope, scope_id, start), usd in spent.items():
                nano = _nano(usd)
                self._seeds[(scope, str(scope_id), float(start))] = nano
                for window in WINDOWS:
                    account = self._accounts.get((scope, str(scope_id), window))
                    if account is not None and account.start == float(start) and account.reset > -math.inf:
                        account.spent = max(account.spent, nano)

    def snapshot(self) -> list[dict[str, Any]]:
        """Each budget and id met so far, now: scope, scope_id, window, action, spent, reserved,
        max_budget, window_start, resets_at (UTC ISO; None for a budget that never resets), line."""
        now = self._clock()
        with self._lock:
            rows = []
            for binding in self._bindings.values():
                account = self._current(binding.account, now)
                rows.append({"scope": account.scope, "scope_id": binding.scope_id, "window": account.window,
                             "action": binding.action, "spent": account.spent / _NANO,
                             "reserved": account.reserved / _NANO, "max_budget": binding.rule.max_budget,
                             "window_start": _iso(account.start), "resets_at": _iso(account.reset),
                             "line": binding.rule.line})
        return rows

    def _alert(self, event: dict[str, Any]) -> None:
        if self._on_alert is None:
            logger.warning("llmops_nb gateway: budget alert — %s", event["message"])
            return
        try:
            self._on_alert(event)
        except Exception as exc:  # noqa: BLE001 - a failing alert hook must not fail the request it let through
            log_once("gateway.budget_alert_hook", exc, "llmops_nb gateway: the budget alert callback failed")


def _room(binding: _Binding) -> float:
    account = binding.account
    return binding.limit - account.spent - account.reserved


def _exceeded(binding: _Binding, amount: float) -> BudgetExceededError:
    account = binding.account
    resets = _NEVER if math.isinf(account.reset) else datetime.fromtimestamp(account.reset, timezone.utc)
    # spend includes what requests in flight hold: that money is promised, and it is why this one is refused
    return BudgetExceededError(account.scope, binding.scope_id, max_budget=binding.rule.max_budget,
                               spent=(account.spent + account.reserved) / _NANO, window=account.window,
                               resets_at=resets, reserved=amount)


def _event(binding: _Binding, amount: float) -> dict[str, Any]:
    account = binding.account
    spent, reserved = account.spent / _NANO, account.reserved / _NANO
    message = (f"{account.scope} {binding.scope_id!r} has spent ${spent:.4f} (+ ${reserved:.4f} in flight) of its "
               f"{account.window} alert budget of ${binding.rule.max_budget:.2f}; requests continue "
               f"(action: alert){'; resets at ' + str(_iso(account.reset)) if math.isfinite(account.reset) else ''}")
    return {"scope": account.scope, "scope_id": binding.scope_id, "window": account.window, "action": "alert",
            "max_budget": binding.rule.max_budget, "spent": spent, "reserved": reserved, "amount": amount,
            "window_start": _iso(account.start), "resets_at": _iso(account.reset), "line": binding.rule.line,
            "message": message}


def _attr(name: str) -> str:
    return f"json_extract_string(attributes, '$.\"{name}\"')"


_SCOPE_COLUMNS = {"key": "gateway.key_id", "user": "user.id", "team": "gateway.team", "project": "gateway.project"}


def spent_from_store(rules: Sequence[BudgetRule], now: float | None = None, *,
                     keys: Iterable[VirtualKey] = ()) -> Spend:
    """What the store's gateway requests spent, ``{(scope, scope_id, window_start): usd}``, for the
    current window of every rule (and of the keys' own budgets): one query, for :meth:`BudgetLedger.seed`.

    Reads the ``gateway <route>`` spans' ``gateway.cost_usd`` (the settled cost), grouped by
    ``gateway.key_id``, ``user.id``, ``gateway.team`` and ``gateway.project``.
    """
    windows: dict[str, set[str]] = {}
    for rule in rules:
        windows.setdefault(rule.scope, set()).add(normalize_window(rule.window))
    for key in keys:
        if key.max_budget is not None:
            windows.setdefault("key", set()).add(normalize_window(key.budget_duration))
    if not windows:
        return {}
    moment = time.time() if now is None else now
    starts = sorted({window_bounds(w, moment)[0] for used in windows.values() for w in used})
    start_ns = [int(start * _NANO) for start in starts]
    sums = ", ".join(f"sum(cost) FILTER (WHERE start_ns >= ?) AS s{i}" for i in range(len(starts)))
    query = f"""
        WITH gateway AS (
            SELECT start_ns, TRY_CAST({_attr('gateway.cost_usd')} AS DOUBLE) AS cost,
                   {', '.join(f"{_attr(column)} AS {scope}" for scope, column in _SCOPE_COLUMNS.items())}
            FROM spans
            WHERE name LIKE 'gateway %' AND kind = 'CHAIN' AND start_ns >= ?
        )
        SELECT {', '.join(_SCOPE_COLUMNS)}, {sums}
        FROM gateway WHERE cost IS NOT NULL AND cost > 0
        GROUP BY ALL
    """
    from ..store import get_store

    with get_store().connect() as con:
        rows = con.execute(query, [start_ns[0], *start_ns]).fetchall()  # in the order they appear
    found: Spend = {}
    scopes = list(_SCOPE_COLUMNS)
    for row in rows:
        for position, scope in enumerate(scopes):
            value = row[position]
            if value is None or scope not in windows:
                continue
            for window in windows[scope]:
                start = window_bounds(window, moment)[0]
                usd = row[len(scopes) + starts.index(start)]
                if usd:
                    found[(scope, value, start)] = found.get((scope, value, start), 0.0) + float(usd)
    return found
