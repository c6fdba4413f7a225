"""An online scorer: a scorer or judge from ``llmops_nb.evals`` plus what it watches and how much of it.

``sample_rate`` picks traces by a hash of the trace id, not by chance: two scorers at 10 % see the
same tenth of the traffic, and a trace is in or out the same way on every pass and every machine.
``where`` narrows the traces (SQL over ``traces t``, checked by :mod:`._where`); ``span_kind`` /
``span_name`` make it judge each matching span (one LLM call, one retrieval) instead of the trace.

A scorer's *version* is part of the exactly-once key: a judge with new instructions or another
model is a new version and scores new traces afresh, while the old version's results stay.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..evals._scorer import Scorer, check_scorers
from ._durations import instant_ns
from ._where import check_where

#: sample_rate compares the first 32 bits of md5(trace_id) with rate × 2**32 (the SQL does the same)
SAMPLE_SPACE = 2**32


@dataclass(frozen=True)
class OnlineScorer:
    """One scorer registered on a monitor (made by :meth:`Monitor.add`)."""

    scorer: Scorer
    name: str
    version: str
    sample_rate: float = 1.0
    where: str = "TRUE"
    params: tuple[Any, ...] = ()
    span_kinds: tuple[str, ...] = ()
    span_name: str | None = None
    start_ns: int = 0  # traces that ended before this are not scored: when it was added, or the backfill's start
    definition: dict[str, Any] = field(default_factory=dict)

    @property
    def targets_spans(self) -> bool:
        return bool(self.span_kinds or self.span_name)


def online_scorer(scorer: Any, *, name: str | None = None, sample_rate: float = 1.0, where: str | None = None,
                  params: Sequence[Any] | None = None, span_kind: str | Sequence[str] | None = None,
                  span_name: str | None = None, version: str | None = None, backfill: Any = False) -> OnlineScorer:
    """Check the arguments of :meth:`Monitor.add` and describe the scorer once."""
    (checked,) = check_scorers([scorer])
    label = name or checked.name
    if not isinstance(label, str) or not label or "/" in label:
        raise ValueError(f"An online scorer's name is its assessments' name: a non-empty string without '/', "
                         f"got {label!r}.")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)) or not 0 < sample_rate <= 1:
        raise ValueError(f"sample_rate is the share of traces to score, above 0 and at most 1 (0.1 = 10 %), "
                         f"got {sample_rate!r}.")
    sql, values = check_where(where, params)
    kinds = (span_kind,) if isinstance(span_kind, str) else tuple(span_kind or ())
    if any(not isinstance(k, str) or not k for k in kinds):
        raise ValueError(f"span_kind is a span kind or a list of them, e.g. 'LLM' or ['LLM', 'CHAT_MODEL']; "
                         f"got {span_kind!r}.")
    kinds = tuple(k.upper() for k in kinds)
    if "LLM" in kinds and "CHAT_MODEL" not in kinds:
        kinds += ("CHAT_MODEL",)  # a chat call is an LLM call: the SDK capture records CHAT_MODEL
    if span_name is not None and (not isinstance(span_name, str) or not span_name):
        raise ValueError(f"span_name is a span name or a glob like 'retrieve*', got {span_name!r}.")
    if backfill is False or backfill is None:
        start_ns = time.time_ns()  # from now: traffic from the moment it is added
    elif backfill is True:
        start_ns = 0
    else:
        start_ns = instant_ns(backfill, "backfill")
    definition = {"name": label, **checked.describe(), "sample_rate": float(sample_rate), "where": where,
                  "span_kind": list(kinds) or None, "span_name": span_name}
    return OnlineScorer(checked, label, version or _version(checked), float(sample_rate), sql, tuple(values),
                        kinds, span_name, start_ns, definition)


def _version(scorer: Scorer) -> str:
    """12 hex characters of a hash of what the scorer is: its description, a judge's prompt, a function's code."""
    parts: dict[str, Any] = {**scorer.describe(), "class": type(scorer).__qualname__}
    for attribute in ("instructions", "system_prompt"):
        if isinstance(getattr(scorer, attribute, None), str):
            parts[attribute] = getattr(scorer, attribute)
    value_type = getattr(scorer, "value_type", None)
    if value_type is not None:
        parts["value_type"] = value_type.describe()
    fn = getattr(scorer, "fn", None)
    if fn is not None:
        try:
            parts["code"] = inspect.getsource(fn)
        except (OSError, TypeError):
            parts["code"] = getattr(fn, "__qualname__", repr(fn))
    elif not hasattr(scorer, "instructions"):
        try:
            parts["code"] = inspect.getsource(type(scorer))
        except (OSError, TypeError):
            pass
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def sampled(trace_id: str, rate: float) -> bool:
    """Whether ``trace_id`` is in a ``rate`` sample (what the candidates' SQL decides, in Python).

    >>> sampled("0" * 32, 0.9), sampled("0" * 32, 0.5)
    (True, False)
    """
    return int(hashlib.md5(trace_id.encode()).hexdigest()[:8], 16) < sample_bound(rate)


def sample_bound(rate: float) -> int:
    """The hash bound a ``rate`` sample keeps traces under."""
    return int(rate * SAMPLE_SPACE)
