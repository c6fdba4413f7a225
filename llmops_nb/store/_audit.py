"""The audit trail: an append-only, hash-chained log of governance events in the store.

Each row says who (``actor``, the same rule as a prompt's author: ``_config.current_author``) did
what (``action``: ``prompt.version_created``, ``prompt.alias_set``, ``prompt.alias_moved``,
``prompt.alias_deleted``, ``data.erased``, ``retention.applied``, ``export.parquet``,
``export.otlp``, ``export.html``, ``pii.policy_changed``) to what (``subject``) and when
(``logged_at``, UTC), with ``details`` as a JSON object of counts and names — never the erased content,
a key or a password (details pass ``redact_mapping`` first).

Row ``n`` carries ``prev_hash`` = row ``n-1``'s ``hash`` and ``hash`` = sha256 of its own fields
and ``prev_hash``, serialized one way only (:func:`row_hash`). So an edited row no longer matches
its hash, a deleted row leaves a gap in ``seq`` and a broken link, and ``verify_audit()`` names the
first row where the chain breaks. Removing the newest rows leaves a shorter chain that is still
whole: that is caught against an anchor, the ``(seq, hash)`` of a head seen earlier
(``verify_audit(anchor=...)``), kept outside the store.

The chain must never fork (two rows after one ``prev_hash``), so "read the last hash, append the
next row" runs with no other writer in between: in a DuckDB file one process holds the file at a
time and one thread the connection, and ``seq`` is a key (a fork fails to commit); on a lake, whose
writers are many processes, the read and the append run under the advisory lock ``audit``, taken
before the transaction begins so it reads the last row committed (``LakeStore.exclusive``).
Governance changes (a prompt version, an erasure) append their row in their own transaction:
both are stored or neither.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from .._config import current_author
from .._redact import redact_mapping
from .._safety import log_once
from ._connection import get_store

__all__ = ["GENESIS", "AuditCheck", "append", "audit", "audited", "locked", "record", "record_quietly", "row_hash",
           "verify_audit"]

#: ``prev_hash`` of row 1
GENESIS = "0" * 64
LOCK = "audit"
_COLUMNS = "seq, logged_at, actor, action, subject, details, prev_hash, hash"
_CONFLICT_ATTEMPTS = 12
_READ_ROWS = 10_000


def row_hash(row: tuple[Any, ...]) -> str:
    """The sha256 (hex) of a row ``(seq, logged_at, actor, action, subject, details, prev_hash)``: over a
    JSON array of those fields, ``logged_at`` as ISO UTC with microseconds, ``details`` as stored."""
    seq, at, actor, action, subject, details, prev_hash = row
    canonical = json.dumps([int(seq), _at_text(at), actor, action, subject, details, prev_hash],
                           ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _at_text(at: dt.datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _details_text(details: dict[str, Any] | None) -> str:
    if details is not None and not isinstance(details, dict):
        raise TypeError(f"audit details must be a dict of counts and names, got {type(details).__name__}.")
    return json.dumps(redact_mapping(details or {}), ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str)


def append(con: Any, action: str, subject: str | None = None, details: dict[str, Any] | None = None, *,
           actor: str | None = None) -> int:
    """Append one event in the caller's transaction on ``con``; returns its ``seq``.

    The caller holds :func:`locked` (taken before its transaction began), so no other writer
    appends between the read of the last row and this insert.
    """
    if not isinstance(action, str) or "." not in action:
        raise ValueError(f"an audit action is 'area.event' (e.g. 'export.parquet'), got {action!r}.")
    who = current_author(actor)
    text = _details_text(details)
    # microseconds: what a TIMESTAMP keeps, so the hash recomputed from the stored row is the same
    at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (int(last[0]) + 1, str(last[1])) if last else (1, GENESIS)
    digest = row_hash((seq, at, who, action, subject, text, prev))
    con.execute(f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [seq, at, who, action, subject, text, prev, digest])
    return seq


@contextlib.contextmanager
def locked(store: Any = None) -> Iterator[None]:
    """Hold the audit trail's lock (a lake's advisory lock; a file needs none): enter before ``connect()``."""
    with (store or get_store()).exclusive(LOCK):
        yield


def audited(work: Callable[[Any], tuple[str, str | None, dict[str, Any], Any]], *, locks: tuple[str, ...] = (),
            actor: str | None = None) -> Any:
    """Run ``work(con)`` and append its event in one transaction; returns ``work``'s result.

    ``work`` makes the change and returns ``(action, subject, details, result)``. ``locks``: the
    lake's advisory locks the change needs (``eval_runs``, ...), taken before the audit's own, in
    this order. A lake's write conflict (another process committed meanwhile) runs it all again.
    """
    store = get_store()
    delay = 0.02
    with contextlib.ExitStack() as held:
        for name in (*locks, LOCK):
            held.enter_context(store.exclusive(name))
        for attempt in range(_CONFLICT_ATTEMPTS):
            with store.connect() as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    action, subject, details, result = work(con)
                    append(con, action, subject, details, actor=actor)
                    con.execute("COMMIT")
                    return result
                except Exception as exc:
                    with contextlib.suppress(Exception):  # a failed COMMIT may have ended it already
                        con.execute("ROLLBACK")
                    if store.supports_upsert or attempt == _CONFLICT_ATTEMPTS - 1 or not _is_conflict(exc):
                        raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _is_conflict(exc: BaseException) -> bool:
    from ._lake import is_conflict

    return is_conflict(exc)


def record(action: str, subject: str | None = None, details: dict[str, Any] | None = None, *,
           actor: str | None = None) -> None:
    """Append one event on its own (an export, a policy change): its own transaction."""
    audited(lambda con: (action, subject, details or {}, None), actor=actor)


def record_quietly(action: str, subject: str | None = None, details: dict[str, Any] | None = None) -> None:
    """``record``, for events that already happened outside the store (an export): if the store
    cannot take the row (a read-only role, a locked file), the export stands and a warning says so."""
    try:
        record(action, subject, details)
    except Exception as exc:  # noqa: BLE001 - the file is written; failing now would only hide it
        log_once(f"audit.{action}", exc, f"llmops_nb: the audit trail could not record {action} (the store "
                 "did not take the row; see the cause below). The export itself is complete.")


def audit(since: Any = None, action: str | None = None, limit: int | None = 1000) -> Any:
    """The audit trail, newest first, as a pandas DataFrame (``details`` parsed to dicts).

    ``since``: a datetime, ISO string or ``timedelta`` (as for ``traces()``); ``action``: one
    action, or a glob (``"prompt.*"``); ``limit``: rows at most (None: all).

    >>> import llmops_nb
    >>> llmops_nb.audit(action="prompt.*", since="2026-12-01")  # doctest: +SKIP
    """
    from ._time import instant

    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        where.append("logged_at >= ?")
        params.append(instant(since, "since").replace(tzinfo=None))
    if action is not None:
        if not isinstance(action, str) or not action:
            raise ValueError(f"action is an action name or a glob like 'prompt.*', got {action!r}.")
        where.append("action GLOB ?" if any(ch in action for ch in "*?[") else "action = ?")
        params.append(action)
    query = f"SELECT {_COLUMNS} FROM audit_log" + (" WHERE " + " AND ".join(where) if where else "")
    query += " ORDER BY seq DESC"
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit is a number of rows (or None for all), got {limit!r}.")
        query += " LIMIT ?"
        params.append(limit)
    with get_store().connect() as con:
        frame = con.execute(query, params).df()
    frame["details"] = [json.loads(text) if isinstance(text, str) else text for text in frame["details"]]
    return frame


@dataclasses.dataclass(frozen=True)
class AuditCheck:
    """What ``verify_audit()`` found: ``ok``, or the first broken row's ``seq`` and ``reason``.

    ``head`` is the newest row's ``(seq, hash)``: keep it somewhere else and pass it back as
    ``verify_audit(anchor=...)`` to prove later that no row up to it was removed or changed.
    """

    ok: bool
    rows: int
    head: tuple[int, str] | None
    seq: int | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            where = f", head seq {self.head[0]} hash {self.head[1][:12]}…" if self.head else ""
            return f"audit trail ok: {self.rows} rows, unbroken{where}"
        return f"audit trail BROKEN at seq {self.seq}: {self.reason}"


def verify_audit(anchor: Any = None) -> AuditCheck:
    """Recompute the audit trail's hash chain; an ``AuditCheck`` that is ok or names the first broken row.

    Found: an edited row (its hash no longer matches), a deleted row (a gap in ``seq``), a row whose
    ``prev_hash`` is not its predecessor's hash, two rows with one ``seq`` (a fork). ``anchor``: a
    ``(seq, hash)`` or an earlier ``AuditCheck`` — rows removed from the end are found against it.

    >>> import llmops_nb
    >>> check = llmops_nb.verify_audit()  # doctest: +SKIP
    >>> check.ok, check.seq, check.reason  # doctest: +SKIP
    (False, 7, 'its fields do not match its hash: the row was changed after it was written')
    """
    anchor_seq, anchor_hash = _anchor(anchor)
    expected, prev, rows, head = 1, GENESIS, 0, None
    anchor_seen = anchor_seq is None
    with get_store().connect() as con:
        result = con.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq, hash")
        while chunk := result.fetchmany(_READ_ROWS):
            for seq, at, actor, action, subject, details, prev_hash, digest in chunk:
                problem = _problem(int(seq), expected, prev, (at, actor, action, subject, details, prev_hash, digest))
                if problem is not None:
                    return AuditCheck(False, rows, head, problem[0], problem[1])
                if anchor_seq == seq:
                    if digest != anchor_hash:
                        return AuditCheck(False, rows, head, int(seq), "its hash differs from the anchor's: the "
                                          "trail was rewritten from this row on since the anchor was taken")
                    anchor_seen = True
                rows, expected, prev, head = rows + 1, int(seq) + 1, digest, (int(seq), str(digest))
    if not anchor_seen:
        return AuditCheck(False, rows, head, anchor_seq, f"the anchor's row is gone: the trail ends at seq "
                          f"{head[0] if head else 0}, so rows were removed from its end")
    return AuditCheck(True, rows, head)


def _problem(seq: int, expected: int, prev: str, fields: tuple[Any, ...]) -> tuple[int, str] | None:
    at, actor, action, subject, details, prev_hash, digest = fields
    if seq < expected:
        return seq, f"two rows have seq {seq}: the chain forked (two writers appended after one row)"
    if seq > expected:
        missing = f"row {expected} is" if seq == expected + 1 else f"rows {expected} to {seq - 1} are"
        where = f"the trail starts at seq {seq}" if expected == 1 else \
            f"the trail goes from seq {expected - 1} to {seq}"
        return expected, f"{missing} missing (deleted): {where}"
    if row_hash((seq, at, actor, action, subject, details, prev_hash)) != digest:
        return seq, "its fields do not match its hash: the row was changed after it was written"
    if prev_hash != prev:
        before = "the chain's start (64 zeros)" if seq == 1 else f"row {seq - 1}'s hash"
        return seq, f"its prev_hash is not {before}: a row before it was replaced"
    return None


def _anchor(anchor: Any) -> tuple[int | None, str | None]:
    if anchor is None:
        return None, None
    if isinstance(anchor, AuditCheck):
        anchor = anchor.head
        if anchor is None:
            return None, None
    try:
        seq, digest = anchor
        return int(seq), str(digest)
    except (TypeError, ValueError):
        raise TypeError(f"anchor is an earlier verify_audit() result or its head, a (seq, hash) pair; "
                        f"got {anchor!r}.") from None
