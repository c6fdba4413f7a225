"""A recording in memory: the recorded calls by request, answered in recorded order, and the miss report.

Equal requests (an agent asking the same thing twice, a loop) get their answers in the order they
were recorded; once those are used up, the last one answers again — re-running a cell in a
replaying notebook works, and ``status()`` counts these repeats. A request never recorded is a
*miss*: strict mode answers it with an error naming the request and the nearest recorded one,
with a diff of the two bodies.
"""

from __future__ import annotations

import difflib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_DIFF_LINES = 40
_NEAREST_CANDIDATES = 500


@dataclass(frozen=True)
class RecordedCall:
    recording: str
    started_ns: int
    call_key: str
    method: str
    path: str
    request: str
    status: int
    headers: tuple[tuple[str, str], ...]
    chunks: tuple[bytes, ...]
    complete: bool
    client: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    provider: str | None = None
    model: str | None = None

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.chunks)


class Index:
    """The calls a replay answers from; safe to use from many threads and event loops at once."""

    def __init__(self, calls: Iterable[RecordedCall]) -> None:
        self._by_key: dict[str, list[RecordedCall]] = {}
        for call in sorted(calls, key=lambda c: c.started_ns):
            self._by_key.setdefault(call.call_key, []).append(call)
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()
        self.repeats = 0

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())

    def add(self, call: RecordedCall) -> None:
        """A call just recorded (fallthrough): equal requests after it are answered from it."""
        with self._lock:
            calls = self._by_key.setdefault(call.call_key, [])
            calls.append(call)
            self._used[call.call_key] = len(calls)  # this one was the live answer: it is used

    def take(self, key: str) -> RecordedCall | None:
        """The next recorded answer to this request, or None if it was never recorded."""
        calls = self._by_key.get(key)
        if not calls:
            return None
        with self._lock:
            used = self._used.get(key, 0)
            self._used[key] = used + 1
            if used >= len(calls):
                self.repeats += 1
        return calls[min(used, len(calls) - 1)]

    def nearest(self, method: str, path: str, text: str) -> RecordedCall | None:
        same_path = [c[0] for c in self._by_key.values() if c[0].method == method and c[0].path == path]
        candidates = (same_path or [c[0] for c in self._by_key.values()])[-_NEAREST_CANDIDATES:]
        best, best_ratio = None, -1.0
        for call in candidates:
            matcher = difflib.SequenceMatcher(None, call.request, text, autojunk=False)
            if matcher.real_quick_ratio() <= best_ratio or matcher.quick_ratio() <= best_ratio:
                continue
            ratio = matcher.ratio()
            if ratio > best_ratio:
                best, best_ratio = call, ratio
        return best

    def miss_report(self, method: str, path: str, text: str, recording: str) -> str:
        """Why a request has no answer, as an error message that says what to do."""
        head = (f"llmops_nb replay (strict): no recorded call matches {method} {path} in recording "
                f"{recording!r} ({len(self)} calls).")
        fix = ("Record it again (%llm_replay record, or python -m llmops_nb run NOTEBOOK --record FILE), use "
               "%llm_replay fallthrough to send unrecorded calls to the provider and record them, or add a "
               "non-deterministic part of the request to ignore_keys/ignore_patterns.")
        near = self.nearest(method, path, text)
        if near is None:
            return f"{head} The recording is empty. {fix}"
        diff = list(difflib.unified_diff(_pretty(near.request), _pretty(text), "recorded", "this request",
                                         lineterm="", n=1))
        shown = diff[:_DIFF_LINES] + ([f"... {len(diff) - _DIFF_LINES} more diff lines"]
                                      if len(diff) > _DIFF_LINES else [])
        where = f"{near.method} {near.path}" + (f", span {near.span_id}" if near.span_id else "")
        return f"{head} The nearest recorded call ({where}) differs:\n" + "\n".join(shown) + f"\n{fix}"


def _pretty(text: str) -> list[str]:
    """One line per JSON value, so that a diff points at the part that changed."""
    try:
        data: Any = json.loads(text)
    except ValueError:
        return text.splitlines()
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
