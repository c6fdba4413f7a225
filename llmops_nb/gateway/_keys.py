"""The gateway's virtual keys: issued once, stored as a sha256, checked on every request, revoked.

A key is ``sk-llmops-`` plus 32 random bytes (base64url). :meth:`KeyStore.create` returns it once;
the store keeps only its sha256 (``gateway_keys``, migration ``gw001_gateway_keys``), so a copy of
the store, its backups or its audit trail never hold a usable key. Hashing without a salt is
enough here: the key is 256 random bits, nothing a dictionary or a rainbow table can guess.

:meth:`KeyStore.verify` runs on every request, so answers are cached for ``CACHE_TTL_S`` seconds:
a revocation made in another process (the server while a notebook uses the store) applies within
that time, one made through this ``KeyStore`` at once. Unknown keys are cached too (a client
retrying with a wrong key costs no store reads), in a bounded cache.

Creating and revoking a key each append an audit event (``gateway.key_created``,
``gateway.key_revoked``) in the same transaction: the key id, its name and scopes, never the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from ._budgets import normalize_window
from ._types import VirtualKey

__all__ = ["CACHE_TTL_S", "KEY_PREFIX", "KeyStore", "key_hash"]

KEY_PREFIX = "sk-llmops-"
#: how long a verify() answer is reused: the longest a revocation by another process takes to apply
CACHE_TTL_S = 5.0
_CACHE_MAX = 10_000
_LOCK = "gateway_keys"  # the lake's advisory lock for revocations (an UPDATE in place)
_COLUMNS = ("key_id", "name", "models", "rpm", "tpm", "max_budget", "budget_duration", "user_id", "team", "project",
            "created_at", "revoked_at")


def key_hash(plaintext: str) -> str:
    """The sha256 (hex) a key is stored and looked up by."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


class KeyStore:
    """Virtual keys in the configured llmops_nb store.

    >>> keys = KeyStore()                                              # doctest: +SKIP
    >>> plaintext, key = keys.create("ci", models=["chat"], max_budget=5.0, budget_duration="daily")  # doctest: +SKIP
    >>> keys.verify(plaintext).key_id == key.key_id                    # doctest: +SKIP
    True
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, VirtualKey | None]] = {}

    def create(self, name: str | None = None, *, models: Iterable[str] | None = None, rpm: int | None = None,
               tpm: int | None = None, max_budget: float | None = None, budget_duration: str | None = None,
               user: str | None = None, team: str | None = None, project: str | None = None,
               ) -> tuple[str, VirtualKey]:
        """Issue a key; returns ``(plaintext, VirtualKey)``. The plaintext is shown this once: keep it.

        ``models``: the model names it may use (None: all); ``rpm``/``tpm``: its own rate limits;
        ``max_budget`` (USD) per ``budget_duration`` (daily, weekly, monthly; None: never resets);
        ``user``/``team``/``project``: whom its requests are attributed to (its budgets and limits too).
        """
        key = VirtualKey(
            key_id="key_" + secrets.token_hex(6), name=_text(name, "name"), models=_models(models),
            rpm=_limit(rpm, "rpm"), tpm=_limit(tpm, "tpm"), max_budget=_budget(max_budget),
            budget_duration=None if budget_duration is None else _duration(budget_duration),
            user=_text(user, "user"), team=_text(team, "team"), project=_text(project, "project"))
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        digest = key_hash(plaintext)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        row = [key.key_id, digest, key.name, None if key.models is None else json.dumps(list(key.models)), key.rpm,
               key.tpm, key.max_budget, key.budget_duration, key.user, key.team, key.project, now]

        def work(con: Any) -> tuple[str, str, dict[str, Any], None]:
            con.execute(f"INSERT INTO gateway_keys (key_id, key_hash, {', '.join(_COLUMNS[1:-1])}) "
                        f"VALUES ({', '.join('?' * len(row))})", row)
            return "gateway.key_created", key.key_id, {"key_id": key.key_id, "name": key.name, **_scopes(key)}, None

        _audited(work)
        with self._lock:
            self._cache[digest] = (self._clock() + CACHE_TTL_S, key)
        return plaintext, key

    def verify(self, plaintext: str) -> VirtualKey | None:
        """The key ``plaintext`` is, or ``None`` when unknown. A revoked key comes back with ``revoked=True``
        (the gateway refuses it; telling it apart from a typo helps its owner)."""
        if not isinstance(plaintext, str) or not plaintext.startswith(KEY_PREFIX):
            return None  # not one of ours (the master key, a provider's key): no store read
        digest = key_hash(plaintext)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        from ..store import get_store

        with get_store().connect() as con:
            row = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM gateway_keys WHERE key_hash = ? LIMIT 1",
                              [digest]).fetchone()
        key = None if row is None else _from_row(row)
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache = {d: entry for d, entry in self._cache.items() if entry[0] > now}
                if len(self._cache) >= _CACHE_MAX:  # a flood of distinct wrong keys: start over
                    self._cache.clear()
            self._cache[digest] = (now + CACHE_TTL_S, key)
        return key

    def revoke(self, key_id: str) -> bool:
        """Revoke a key for good; True if it was revoked now, False if it already was.

        Raises ``LookupError`` for an unknown id (ids are in :meth:`list`).
        """
        when = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)

        def work(con: Any) -> tuple[str, str, dict[str, Any], bool]:
            row = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM gateway_keys WHERE key_id = ?", [key_id]).fetchone()
            if row is None:
                raise LookupError(f"no gateway key with id {key_id!r}; the ids are in gw.keys.list().key_id")
            key = _from_row(row)
            if key.revoked:
                return "gateway.key_revoked", key_id, {"key_id": key_id, "name": key.name, "already": True}, False
            con.execute("UPDATE gateway_keys SET revoked_at = ? WHERE key_id = ?", [when, key_id])
            return "gateway.key_revoked", key_id, {"key_id": key_id, "name": key.name, **_scopes(key)}, True

        done: bool = _audited(work, locks=(_LOCK,))
        with self._lock:  # this process stops accepting it now, not when the cache expires
            self._cache = {d: entry for d, entry in self._cache.items()
                           if entry[1] is None or entry[1].key_id != key_id}
        return done

    def active(self) -> list[VirtualKey]:
        """The keys not revoked (for ``spent_from_store(..., keys=...)``: their own budgets' spend so far)."""
        from ..store import get_store

        with get_store().connect() as con:
            rows = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM gateway_keys WHERE revoked_at IS NULL "
                               "ORDER BY created_at, key_id").fetchall()
        return [_from_row(row) for row in rows]

    def list(self) -> Any:
        """Every key, newest first, as a pandas DataFrame: id, name, scopes, limits, created_at, revoked_at,
        revoked. No hash and no key (neither can be shown again)."""
        from ..store import get_store

        with get_store().connect() as con:
            frame = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM gateway_keys ORDER BY created_at DESC, key_id"
                                ).df()
        frame["models"] = [json.loads(m) if isinstance(m, str) else None for m in frame["models"]]
        frame = frame.rename(columns={"user_id": "user"})
        frame["revoked"] = frame["revoked_at"].notna()
        return frame


def _audited(work: Callable[[Any], tuple[str, str | None, dict[str, Any], Any]], *, locks: tuple[str, ...] = (),
             ) -> Any:
    from ..store._audit import audited

    return audited(work, locks=locks)


def _from_row(row: tuple[Any, ...]) -> VirtualKey:
    key_id, name, models, rpm, tpm, max_budget, duration, user, team, project, _, revoked_at = row
    return VirtualKey(key_id=key_id, name=name, models=None if models is None else tuple(json.loads(models)),
                      rpm=None if rpm is None else int(rpm), tpm=None if tpm is None else int(tpm),
                      max_budget=None if max_budget is None else float(max_budget), budget_duration=duration,
                      user=user, team=team, project=project, revoked=revoked_at is not None)


def _scopes(key: VirtualKey) -> dict[str, Any]:
    return {"models": None if key.models is None else list(key.models), "rpm": key.rpm, "tpm": key.tpm,
            "max_budget": key.max_budget, "budget_duration": key.budget_duration, "user": key.user,
            "team": key.team, "project": key.project}


def _text(value: Any, label: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{label} must be a non-empty string (or None), got {value!r}.")
    return value


def _models(models: Iterable[str] | None) -> tuple[str, ...] | None:
    if models is None:
        return None
    if isinstance(models, str):
        models = [models]
    names = tuple(models)
    if not all(isinstance(m, str) and m for m in names):
        raise ValueError(f"models is a list of model names (the config's model_name), got {names!r}.")
    return names


def _limit(value: Any, label: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{label} is a whole number of {'requests' if label == 'rpm' else 'tokens'} per minute "
                         f"(1 or more; None for no limit), got {value!r}.")
    return value


def _budget(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"max_budget is an amount in USD (0 or more; None for no budget), got {value!r}.")
    return float(value)


def _duration(value: Any) -> str:
    try:
        window = normalize_window(value) if isinstance(value, str) else "bad"
    except ValueError:
        window = "bad"
    if window not in ("daily", "weekly", "monthly"):
        raise ValueError(f"budget_duration is daily, weekly or monthly (or 1d, 7d, 30d; None: the budget never "
                         f"resets), got {value!r}.")
    return window
