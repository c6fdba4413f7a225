"""The trace list's filters: checked and put in one canonical form, and stated in words.

A filter dict comes from Python (``trace_list(status="error")``, ``TraceList(filters=...)``) or from the
view's inputs; ``normalize_filters`` turns either into the form the query and the traitlet hold
(empty values dropped, tags a dict, status upper-case, times as ISO text) or raises ``ValueError``
naming the bad value and what to write instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ...store._queries import _STATUSES
from ...store._time import epoch_ns
from .._params import check_filter_keys

FILTERS = ("name", "tags", "status", "model", "session", "eval_run", "since", "until", "text", "evals")
MAX_FILTER_CHARS = 1000


def normalize_filters(filters: Any) -> dict[str, Any]:
    """Check a filter dict and return its canonical form (empty values dropped, tags a dict,
    status upper-case, times as ISO strings). Raises ``ValueError`` naming the bad value."""
    filters = check_filter_keys(filters, FILTERS)
    out: dict[str, Any] = {}
    for key in ("name", "model", "session", "eval_run", "text"):
        value = filters.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(f"filter {key!r} must be a string, got {type(value).__name__} {value!r}.")
        if len(value) > MAX_FILTER_CHARS:
            raise ValueError(f"filter {key!r} is {len(value)} characters; at most {MAX_FILTER_CHARS}.")
        out[key] = value
    tags = _tags(filters.get("tags"))
    if tags:
        out["tags"] = tags
    status = filters.get("status")
    if status not in (None, ""):
        upper = str(status).strip().upper()
        if upper not in _STATUSES:
            raise ValueError(f"status must be one of {', '.join(_STATUSES)}; got {status!r}.")
        out["status"] = upper
    bounds = {}
    for key in ("since", "until"):
        value = filters.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, str):
            value = value.strip()
        bounds[key] = epoch_ns(value, key)
        out[key] = value if isinstance(value, str) else iso(bounds[key])
    evals = filters.get("evals")
    if evals not in (None, False):
        if evals is not True:
            raise ValueError(f"filter 'evals' (list evaluation traces too) must be true or false; got {evals!r}.")
        out["evals"] = True
    if len(bounds) == 2 and bounds["since"] >= bounds["until"]:
        raise ValueError(f"since ({out['since']}) must be before until ({out['until']}).")
    return {key: out[key] for key in FILTERS if key in out}


def _tags(value: Any) -> dict[str, str]:
    # a dict, a list of "KEY=VALUE", or one string of them separated by commas (the view's text box)
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        items = list(value.items())
    else:
        words = [w.strip() for w in value.split(",")] if isinstance(value, str) else value
        if not isinstance(words, (list, tuple)):
            raise ValueError(f"tags must be KEY=VALUE text, a list of them, or a dict; got {value!r}.")
        items = []
        for word in words:
            if word == "" and isinstance(value, str):
                continue
            key, sep, val = str(word).partition("=")
            if not sep or not key.strip():
                raise ValueError(f"bad tag filter {word!r}: write KEY=VALUE, e.g. env=dev (several: env=dev, team=x).")
            items.append((key.strip(), val.strip()))
    tags = {}
    for key, val in items:
        if not isinstance(key, str) or not key or not isinstance(val, str):
            raise ValueError(f"tag filters map text keys to text values; got {key!r}: {val!r}.")
        tags[key] = val
    return tags


def describe_filters(filters: dict[str, Any]) -> str:
    """``name = 'rag', tag env = 'dev', status ERROR`` (or ``all traces``)."""
    parts = []
    for key in FILTERS:
        if key not in filters:
            continue
        value = filters[key]
        if key == "tags":
            parts += [f"tag {k} = {v!r}" for k, v in value.items()]
        elif key == "status":
            parts.append(f"status {value}")
        elif key in ("since", "until"):
            parts.append(f"{'started at or after' if key == 'since' else 'started before'} {value}")
        elif key == "text":
            parts.append(f"text contains {value!r}")
        elif key == "model":
            parts.append(f"a span of model {value!r}")
        elif key == "eval_run":
            parts.append(f"evaluation run {value!r}")
        elif key == "evals":
            parts.append("evaluation traces included")
        else:
            parts.append(f"{key} = {value!r}")
    return ", ".join(parts) if parts else "all traces"


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).isoformat(timespec="milliseconds")
