"""Apply a PII policy to text: the findings become masks, keyed hashes or a dropped field.

:class:`Scrubber` keeps, per trace, which value got which mask number, so ``[EMAIL_1]`` in a
span's output is the ``[EMAIL_1]`` of its input. Only the last ``_TRACES`` traces are remembered
(a bounded map): the numbering of a trace whose spans arrive hours apart may restart, never grow
without bound. Values themselves are never kept, only their keyed digests.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from .._redact import part_starts
from ._detect import PiiMatch, find_pii
from ._policy import PiiPolicy, load_policy

__all__ = ["Scrubber", "redact_pii"]

_TRACES = 4096
_NUMERIC = frozenset({"PHONE", "CREDIT_CARD", "US_SSN", "IBAN"})


def _value_key(match: PiiMatch) -> str:
    """The value as compared for numbering and hashing: ``+1 415-555-2671`` and ``14155552671`` agree."""
    if match.entity in _NUMERIC:
        return "".join(ch for ch in match.text if ch.isalnum()).upper()
    return match.text.strip().lower() if match.entity == "EMAIL" else match.text


class Scrubber:
    """Applies one :class:`PiiPolicy`; thread-safe (the writer and the OTLP forwarder share one)."""

    def __init__(self, policy: PiiPolicy) -> None:
        self.policy = policy
        self._lock = threading.Lock()
        self._numbers: OrderedDict[Any, dict[tuple[str, bytes], int]] = OrderedDict()
        # a per-process key for the numbering map, so even that map holds no readable value
        self._salt = hashlib.sha256(repr((id(self), threading.get_ident())).encode()).digest()
        self.found = 0  # findings replaced since start (status and tests read it)

    def scrub(self, text: Any, field: str | None = None, trace: Any = None, *, json_text: bool | None = False) -> Any:
        """``text`` with the policy applied; non-strings and empty strings pass through."""
        return self.scrub_many([text], field, [trace], json_text=json_text)[0]

    def scrub_many(self, values: Sequence[Any], field: str | None, traces: Sequence[Any] | None = None,
                   *, json_text: bool | None = False) -> list[Any]:
        """Each value scrubbed for ``field`` (``traces[i]`` numbers the masks of ``values[i]``).

        ``json_text``: the values are JSON text (a dropped value then stays valid JSON); ``None``:
        unknown, decided per dropped value.

        The strings are joined and scanned once — most chunks hold no PII at all, and five RE2
        scans of one long text cost far less than five per value.
        """
        out = list(values)
        entities = self.policy.entities_for(field)
        indexes = [i for i, v in enumerate(out) if type(v) is str and v]
        if entities == () or not indexes:
            return out
        parts = [out[i] for i in indexes]
        joined = "\x00".join(parts)
        matches = find_pii(joined, entities, threshold=self.policy.threshold, phone_regions=self.policy.phone_regions,
                           engine=self.policy.engine)
        if not matches:
            return out
        starts = part_starts(parts)
        by_part: dict[int, list[PiiMatch]] = {}
        for match in matches:
            k = bisect.bisect_right(starts, match.start) - 1
            base = starts[k]
            by_part.setdefault(k, []).append(
                PiiMatch(match.entity, match.start - base, match.end - base, match.text, match.score))
        for k, found in by_part.items():
            i = indexes[k]
            trace = traces[i] if traces is not None else None
            out[i] = self._apply(out[i], found, field, trace, json_text)
        return out

    def _apply(self, text: str, found: list[PiiMatch], field: str | None, trace: Any, json_text: bool | None) -> str:
        actions = [self.policy.action(m.entity, field) for m in found]
        with self._lock:
            self.found += len(found)
        dropped = sorted({m.entity for m, a in zip(found, actions, strict=True) if a in ("drop", "block")})
        if dropped:
            note = f"[dropped: {', '.join(dropped)}]"
            return json.dumps(note) if json_text or (json_text is None and _is_json(text)) else note
        pieces, position = [], 0
        for match, action in zip(found, actions, strict=True):
            if action == "allow":
                continue
            pieces += [text[position:match.start], self._replacement(match, action, trace)]
            position = match.end
        pieces.append(text[position:])
        return "".join(pieces)

    def _replacement(self, match: PiiMatch, action: str, trace: Any) -> str:
        key = _value_key(match)
        if action == "hash":
            assert self.policy.secret is not None  # load_policy refuses a hash policy without one
            digest = hmac.new(self.policy.secret, f"{match.entity}\x00{key}".encode(), hashlib.sha256).hexdigest()
            return f"[{match.entity}:{digest[:12]}]"
        private = hmac.new(self._salt, key.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        with self._lock:
            numbers = self._numbers.get(trace)
            if numbers is None:
                numbers = self._numbers[trace] = {}
                if len(self._numbers) > _TRACES:
                    self._numbers.popitem(last=False)
            else:
                self._numbers.move_to_end(trace)
            number = numbers.get((match.entity, private))
            if number is None:
                number = numbers[(match.entity, private)] = 1 + sum(1 for e, _ in numbers if e == match.entity)
        return f"[{match.entity}_{number}]"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def redact_pii(text: str, policy: Any = "mask") -> str:
    """``text`` with its PII handled by ``policy`` (an action, a dict, a file: see ``configure(pii=)``).

    >>> redact_pii("Card 4111 1111 1111 1111, mail ann@example.com, again ann@example.com")
    'Card [CREDIT_CARD_1], mail [EMAIL_1], again [EMAIL_1]'
    """
    loaded = load_policy(policy)
    return text if loaded is None else Scrubber(loaded).scrub(text)
