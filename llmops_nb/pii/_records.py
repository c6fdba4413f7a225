"""The configured PII policy applied to span records, wherever they leave the process.

The store's writer (DuckDB file and DuckLake alike) and the OTLP forwarder both call this, so a
value the policy masks is masked in the store, in every export read from it, in the HTML
snapshots built from it, and in what a live OTLP backend receives: one rule, every path out.
"""

from __future__ import annotations

import os
import threading
from collections.abc import MutableSequence
from typing import TYPE_CHECKING, Any

from .._config import settings
from .._safety import log_once
from ..tracing import _record as rec

if TYPE_CHECKING:
    from ._scrub import Scrubber

__all__ = ["active_scrubber", "check_request", "scrub_columns", "scrub_record", "scrub_texts"]

ENV = "LLMOPS_NB_PII"
# (record field, the field's name in policies, whether its text is JSON)
_FIELDS = ((rec.NAME, "name", False), (rec.STATUS_MESSAGE, "status_message", False), (rec.ERROR, "error", True),
           (rec.INPUTS, "inputs", True), (rec.OUTPUTS, "outputs", True), (rec.ATTRIBUTES, "attributes", True),
           (rec.EVENTS, "events", True), (rec.TAGS, "tags", True), (rec.SESSION, "session", False),
           (rec.CELL, "cell", True))

_lock = threading.Lock()
_active: tuple[Any, Scrubber | None] = (None, None)


def active_scrubber() -> Scrubber | None:
    """The scrubber of ``settings.pii`` (else ``$LLMOPS_NB_PII``), built once per policy value."""
    global _active
    spec = settings.pii if settings.pii is not None else (os.environ.get(ENV) or None)
    key, scrubber = _active
    if key is spec or (isinstance(spec, str) and key == spec):
        return scrubber
    # imported only once a policy is set: the writer imports this module, and most stores have none
    from ._policy import PiiPolicyError, load_policy
    from ._scrub import Scrubber

    with _lock:
        try:
            built = load_policy(spec)
        except PiiPolicyError as exc:
            # configure() refuses a bad policy; a bad $LLMOPS_NB_PII is found only here, on the
            # writer's thread. Storing raw values is what the user asked us not to do, and losing the
            # spans would be silent: drop every finding instead, and say so once.
            log_once("pii-policy", exc, f"llmops_nb: ${ENV} is not a usable PII policy; every PII finding is "
                     "dropped until it is fixed")
            built = load_policy("drop")
        _active = (spec, None if built is None else Scrubber(built))
        return _active[1]


def scrub_columns(columns: MutableSequence[Any]) -> None:
    """Apply the policy to the text columns of a batch (``columns[i]``: field ``i`` of every record)."""
    scrubber = active_scrubber()
    if scrubber is None:
        return
    traces = columns[rec.TRACE_ID]
    for index, name, json_text in _FIELDS:
        columns[index] = scrubber.scrub_many(columns[index], name, traces, json_text=json_text)


def scrub_texts(values: list[Any]) -> list[Any]:
    """Strings stored outside spans (evaluation rows, datasets, feedback) with the policy's defaults."""
    scrubber = active_scrubber()
    return values if scrubber is None else scrubber.scrub_many(values, None, json_text=None)


def scrub_record(record: tuple[Any, ...]) -> tuple[Any, ...]:
    """One full-length record with the policy applied (``record`` itself when there is no policy)."""
    if active_scrubber() is None:
        return record
    columns: list[Any] = [[value] for value in record]
    scrub_columns(columns)
    return tuple(column[0] for column in columns)


def check_request(kwargs: dict[str, Any]) -> None:
    """Raise :class:`PiiBlockedError` when an SDK request carries PII the policy blocks in ``inputs``.

    Called before the request is sent: ``block`` is the one action that changes the user's program,
    by their choice. Only the entities' names reach the message, never the values.
    """
    scrubber = active_scrubber()
    if scrubber is None:
        return
    from ._detect import find_pii

    policy = scrubber.policy
    named = set(policy.actions) | set(policy.fields.get("inputs", {}))
    blocked: tuple[str, ...] | None = tuple(e for e in named if policy.action(e, "inputs") == "block")
    if policy.engine != "builtin" and policy.default == "block":
        blocked = None  # every entity Presidio may name is blocked
    if blocked == ():
        return
    from ._errors import PiiBlockedError

    texts: list[str] = []
    _strings(kwargs, texts, 0)
    found = [m for m in find_pii("\x00".join(texts), blocked, threshold=policy.threshold,
                                 phone_regions=policy.phone_regions, engine=policy.engine)
             if policy.action(m.entity, "inputs") == "block"]
    if found:
        names = sorted({m.entity for m in found})
        raise PiiBlockedError(
            f"llmops_nb blocked this request: it contains {', '.join(names)}, which the PII policy blocks in inputs. "
            "Remove it from the request, or change the policy (configure(pii=...)) to mask it instead.", names)


def _strings(value: Any, out: list[str], depth: int) -> None:
    """Every string in a request's parameters (messages, system, prompt, tool arguments), depth-capped."""
    if depth > 16:
        return
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _strings(item, out, depth + 1)
