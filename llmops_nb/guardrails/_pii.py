"""``pii()``: personal data in the text, found by :func:`llmops_nb.pii.find_pii`, masked by its Scrubber."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from ..pii import ENTITIES, Scrubber, find_pii, load_policy
from ..pii._detect import canonical_entity
from ._validator import Subject, Validator
from ._verdict import Finding

__all__ = ["PiiValidator", "pii"]


class PiiValidator(Validator):
    """Finds PII (see :func:`pii`); redaction applies the policy through a fresh :class:`~llmops_nb.pii.Scrubber`."""

    def __init__(self, entities: Iterable[str] | None = None, policy: Any = None, *, name: str = "pii",
                 action: str | None = None, on_error: str = "block") -> None:
        super().__init__(name=name, action=action, on_error=on_error)
        if isinstance(entities, str):
            entities = [entities]
        loaded = load_policy("mask" if policy is None else policy)
        if loaded is None:
            raise ValueError(f"{name}(policy={policy!r}) turns PII handling off; leave policy out for 'mask', or "
                             "drop the pii() validator.")
        wanted = set(ENTITIES) if entities is None else {canonical_entity(e) for e in entities}
        # The entities the policy allows are not findings; the others are looked for and, on redact,
        # written as the policy says. Per-field overrides are for stored spans, not for a call.
        actions = {e: loaded.action(e) if e in wanted else "allow" for e in ENTITIES}
        self.policy = dataclasses.replace(loaded, actions=actions, fields={})
        self.entities = tuple(e for e in ENTITIES if actions[e] != "allow")

    def inspect(self, subject: Subject) -> list[Finding]:
        findings = []
        for index, text in enumerate(subject.texts):
            for match in find_pii(text, self.entities, threshold=self.policy.threshold,
                                  phone_regions=self.policy.phone_regions):
                findings.append(Finding(self.name, match.entity, f"{match.entity} at {match.start}..{match.end}",
                                        index, match.start, match.end))
        return findings

    def redact(self, subject: Subject, findings: list[Finding]) -> list[str] | None:
        if any(self.policy.action(f.kind) == "block" for f in findings):
            return None  # the policy says this entity stops the call even where others are masked
        # A Scrubber per call: masks are numbered within the call ([EMAIL_1] twice is one address), and
        # nothing about one call's values outlives it.
        return Scrubber(self.policy).scrub_many(subject.texts, None)


def pii(entities: Iterable[str] | None = None, policy: Any = None, *, name: str = "pii", action: str | None = None,
        on_error: str = "block") -> PiiValidator:
    """Fails on personal data: e-mails, phones, cards, IBANs, SSNs, IP addresses, API keys.

    ``entities`` limits the search (``["EMAIL", "PHONE"]``; Presidio's names work too).
    ``policy`` says how ``action="redact"`` writes each entity, as for ``configure(pii=...)``:
    ``"mask"`` (the default, ``[EMAIL_1]``), ``"hash"`` (needs a secret), ``"drop"`` (the whole
    string), per entity in a dict (``{"default": "mask", "IP_ADDRESS": "allow"}``: not looked
    for), and ``"block"`` for an entity that blocks the call even under ``action="redact"``.
    ``action`` overrides the guardrail's for this validator; ``on_error="block"`` (default): if
    the detector fails, the call is blocked rather than let through unchecked.

    >>> from llmops_nb.guardrails import check, pii
    >>> check("Mail ann@example.com", [pii()], action="redact").value
    'Mail [EMAIL_1]'
    """
    return PiiValidator(entities, policy, name=name, action=action, on_error=on_error)
