"""``monitor_incidents``: findings settled into incidents, and what each delivery did, kept with them.

Both writes read first and then write, so each runs inside ``store.exclusive("monitor_incidents")``
and one ``connect()`` block: on a DuckDB file the block is the file lock (and the store's lock
between this process's threads), on a lake an advisory lock — two evaluations at once take turns,
and the second finds the first's incident open. Nothing slow happens inside: the metrics were read
before, the deliveries are made after.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

from ._alert_findings import Finding
from ._metrics import _store

LOCK = "monitor_incidents"


def settle(names: list[str], findings: list[Finding], at: dt.datetime, store: Any) -> list[tuple[Finding, str, str]]:
    """Open, update and resolve the incidents of rules ``names``; the changes as (finding, "fired" or
    "resolved", incident id), in findings' order. ``at``: naive UTC."""
    changes: list[tuple[Finding, str, str]] = []
    chosen = _store(store)
    with chosen.exclusive(LOCK), chosen.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            rows = con.execute("SELECT rule, group_key, incident_id FROM monitor_incidents WHERE state = 'FIRING' "
                               "AND rule IN (SELECT unnest(?::VARCHAR[])) ORDER BY opened_at", [names]).fetchall()
            open_ids: dict[tuple[str, str], list[str]] = {}
            for name, key, incident_id in rows:
                open_ids.setdefault((name, key), []).append(incident_id)
            for finding in findings:
                ids = open_ids.get((finding.rule.name, finding.key), [])
                if finding.breached is None:
                    continue
                if finding.breached and not ids:
                    incident_id = os.urandom(16).hex()
                    con.execute("INSERT INTO monitor_incidents (incident_id, rule, group_key, state, opened_at, "
                                "value, baseline, threshold, message, deliveries, updated_at) "
                                "VALUES (?, ?, ?, 'FIRING', ?, ?, ?, ?, ?, '[]', ?)",
                                [incident_id, finding.rule.name, finding.key, at, finding.value, finding.baseline,
                                 finding.rule.threshold, finding.message, at])
                    changes.append((finding, "fired", incident_id))
                elif finding.breached:  # still firing: the latest value, no event
                    con.execute("UPDATE monitor_incidents SET value = ?, baseline = ?, updated_at = ? "
                                "WHERE incident_id IN (SELECT unnest(?::VARCHAR[]))",
                                [finding.value, finding.baseline, at, ids])
                elif ids:
                    con.execute("UPDATE monitor_incidents SET state = 'RESOLVED', resolved_at = ?, value = ?, "
                                "baseline = ?, updated_at = ? WHERE incident_id IN (SELECT unnest(?::VARCHAR[]))",
                                [at, finding.value, finding.baseline, at, ids])
                    changes.append((finding, "resolved", ids[0]))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return changes


def keep_deliveries(records: dict[str, list[dict[str, Any]]], store: Any) -> None:
    """Append each incident's new delivery records to its ``deliveries`` (a JSON list)."""
    chosen = _store(store)
    with chosen.exclusive(LOCK), chosen.connect() as con:
        for incident_id, new in records.items():
            if not new:
                continue
            row = con.execute("SELECT deliveries FROM monitor_incidents WHERE incident_id = ?",
                              [incident_id]).fetchone()
            kept = json.loads(row[0]) if row and row[0] else []
            con.execute("UPDATE monitor_incidents SET deliveries = ? WHERE incident_id = ?",
                        [json.dumps(kept + new), incident_id])
