"""Find PII in text, offline: candidates by pattern, then validation, context and overlaps.

Three stages, so that precision does not depend on one regex:

1. **Candidates**: five RE2 scans (linear time, ~600 MB/s) find anything shaped like an e-mail, a
   run of digits and separators, an IBAN, an IPv6 address or a long token. Text with none costs
   only those scans.
2. **Validation** (``_validators``): Luhn and issuer ranges for cards, mod-97 and the country's
   length for IBANs, the numbering plan (``phonenumbers``) for phones, SSA rules for SSNs,
   ``ipaddress`` for IPs, provider prefixes (the secret shapes of ``_redact``) and entropy for keys.
   A digit run is split into its groups so that a card inside ``order 12 4111 1111 1111 1111`` or
   a number broken by line breaks and spaces is found whole.
3. **Context**: the nearest of an entity's context words in the few words before a match raises
   its score ("card", "ssn", "call me at") or lowers it ("order", "invoice", "version", "#"); a
   score under the threshold is not reported. Overlaps keep the higher score, then the longer match.

Attackers' spellings are undone first (``_text.normalize``: zero-width characters, full-width
digits); a base64 token that decodes to text is scanned too, and reported whole.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._redact import _SHAPES, fast_re
from . import _validators as valid
from ._text import normalize

__all__ = ["ENGINES", "ENTITIES", "PiiMatch", "canonical_entity", "find_pii"]

ENTITIES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "API_KEY")
# Presidio's names, so its users' policies read the same here
_ALIASES = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "IBAN_CODE": "IBAN", "SSN": "US_SSN",
            "IP": "IP_ADDRESS", "CARD": "CREDIT_CARD", "SECRET": "API_KEY", "TOKEN": "API_KEY"}


ENGINES = ("builtin", "presidio")
_PRESIDIO_NAME = re.compile(r"[A-Z][A-Z0-9_]{1,40}")


def canonical_entity(name: str, engine: str = "builtin") -> str:
    """``"email_address"`` → ``"EMAIL"``; a ValueError naming the known entities otherwise.

    With ``engine="presidio"`` any entity name of Presidio's (``PERSON``, ``URL``…) is accepted too.
    """
    upper = str(name).strip().upper()
    upper = _ALIASES.get(upper, upper)
    if upper not in ENTITIES and not (engine == "presidio" and _PRESIDIO_NAME.fullmatch(upper)):
        more = "" if engine == "presidio" else " (or, with engine 'presidio', one of Presidio's)"
        raise ValueError(f"unknown PII entity {name!r}: use one of {', '.join(ENTITIES)}{more}")
    return upper


@dataclass(frozen=True)
class PiiMatch:
    """One finding: ``text[start:end]`` (offsets in the text as given) is ``entity`` with ``score``."""

    entity: str
    start: int
    end: int
    text: str
    score: float


# -- stage 1: candidates (RE2 syntax: no look-around; boundaries are checked in Python) ----------
_SEP = r"(?:[ \t\-.]|\r?\n|\\[nrt])"  # between digit groups; \n as two characters inside JSON text
_CANDIDATES = {
    "email": r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){1,8}",
    "number": r"[+(]?\d(?:[\d ()/]|" + _SEP + r")*\d",
    "iban": r"[A-Z]{2}\d{2}(?:\s?[A-Z0-9]){11,34}",
    "ipv6": r"[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*",
    "token": r"[A-Za-z0-9_\-+/=.]{16,}",
}
_SCANS = {name: fast_re.compile(pattern) for name, pattern in _CANDIDATES.items()}
_DIGIT_GROUP = re.compile(r"\d+")
_SEPARATOR = re.compile(_SEP)
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F\-]+")
_PHONE_CHARS = 24  # the longest phone number as written: "+44 (0) 20 7946 0958 x12"
_PHONE_START = re.compile(r"(?:(?<=\s)|^)(?:\+\d|\(?\d{2})")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}")

# -- stage 3: context ----------------------------------------------------------------------------
_POSITIVE = {
    "PHONE": r"phone|tel|telephone|call|mobile|cell|fax|whatsapp|sms|text me|reach me|contact|dial",
    "CREDIT_CARD": r"card|visa|mastercard|amex|credit|debit|cc|payment|pan|cvv|expir\w*",
    "US_SSN": r"ssn|social security(?: number| no)?|social-security|taxpayer|tin",
    "IP_ADDRESS": r"ip|ipv4|ipv6|host|server|address|addr|client|from|connect\w*|ping",
    "API_KEY": r"key|token|secret|password|passwd|bearer|apikey|api_key|credentials?|auth\w*",
    "IBAN": r"iban|bank|account|transfer|sepa|wire",
}
_NEGATIVE = (r"order|orders|invoice|tracking|isbn|ref|reference|ticket|sku|serial|version|build|release|"
             r"id|nr|number of|#|uuid|hash|commit|sha|sha1|sha256|checksum|timestamp|part|batch|lot|"
             r"case|item|product|model|zip|postcode|account id|customer id|user id|row|page|line|"
             r"image|img|blob|base64|png|jpe?g|pdf|payload|nonce|salt")
_CONTEXT = {entity: re.compile(rf"(?:^|[^\w])(?:(?P<pos>{words})|(?P<neg>{_NEGATIVE}))(?=$|[^\w])")
            for entity, words in _POSITIVE.items()}
_WINDOW = 40  # characters before a match that may hold its context words

_BASE64_MIN = 16


def find_pii(text: str | bytes, entities: Iterable[str] | None = None, *, threshold: float = 0.5,
             phone_regions: tuple[str, ...] = ("US", "GB"), engine: str = "builtin") -> list[PiiMatch]:
    """Every PII finding in ``text`` with a score ≥ ``threshold``, in order, not overlapping.

    ``entities`` limits the search (names as in :data:`ENTITIES`, or Presidio's); phone numbers
    without ``+`` are read as national numbers of ``phone_regions``. ``engine="presidio"`` adds
    Presidio's findings (``pii/_presidio.py``: names and places with a spaCy model, more
    identifiers without); where both engines find the same text, the higher score wins.

    >>> [(m.entity, m.text) for m in find_pii("Mail jane.doe@example.org or call +44 20 7946 0958.")]
    [('EMAIL', 'jane.doe@example.org'), ('PHONE', '+44 20 7946 0958')]
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not text:
        return []
    if engine not in ENGINES:
        raise ValueError(f"unknown PII engine {engine!r}: use one of {', '.join(ENGINES)}")
    wanted = frozenset(ENTITIES if entities is None else (canonical_entity(e, engine) for e in entities))
    normalized = normalize(text)
    candidates = _candidates(normalized.text, wanted, phone_regions, depth=0)
    if engine == "presidio":
        from ._presidio import presidio_findings

        candidates += [f for f in presidio_findings(normalized.text) if entities is None or f[0] in wanted]
    found = _resolve(candidates, threshold)
    out = []
    for entity, at, to, score in found:
        start, end = normalized.original(at, to)
        out.append(PiiMatch(entity, start, end, text[start:end], round(score, 3)))
    return out


Finding = tuple[str, int, int, float]  # entity, start, end, score (offsets in the normalized text)


def _candidates(text: str, wanted: frozenset[str], regions: tuple[str, ...], depth: int) -> list[Finding]:
    found: list[Finding] = []
    if "EMAIL" in wanted and "@" in text:
        found += _emails(text)
    if wanted & {"PHONE", "CREDIT_CARD", "US_SSN", "IP_ADDRESS"}:
        for match in _SCANS["number"].finditer(text):
            found += _numbers(text, match.start(), match.end(), wanted, regions)
    if "IBAN" in wanted:
        found += _ibans(text)
    if "IP_ADDRESS" in wanted and ":" in text:
        found += _ipv6(text)
    found += _tokens(text, wanted, regions, depth)
    return found


def _emails(text: str) -> list[Finding]:
    out = []
    for match in _SCANS["email"].finditer(text):
        start, end = match.start(), match.end()
        local, _, domain = match.group().partition("@")
        labels = domain.split(".")
        tld = labels[-1]
        if (local.startswith(".") or local.endswith(".") or ".." in local or not tld.isalpha() or len(tld) < 2
                or any(not label or label.startswith("-") or label.endswith("-") for label in labels)):
            continue
        out.append(("EMAIL", start, end, 0.9))
    return out


def _numbers(text: str, start: int, end: int, wanted: frozenset[str], regions: tuple[str, ...]) -> list[Finding]:
    span = text[start:end]
    digits = sum(ch.isdigit() for ch in span)
    out: list[Finding] = []
    if digits < 4:
        return out
    if "IP_ADDRESS" in wanted:
        for match in _IPV4.finditer(span):
            s, e = start + match.start(), start + match.end()
            if valid.ip_address(match.group()) and not _glued(text, s, e, letters_only=True):
                out.append(_scored(text, "IP_ADDRESS", s, e, 0.7))
    if digits < 7:
        return out
    for chain in _chained_groups(span):
        out += _cards_and_ssns(text, start, chain, wanted)
    if "PHONE" in wanted:
        out += _phones(text, start, span, regions)
    return out


def _cards_and_ssns(text: str, start: int, chain: list[tuple[int, int, str]], wanted: frozenset[str]) -> list[Finding]:
    """Cards (13–19 digits, whole or in groups of 3+) and SSNs (3-2-4 or 9 whole) in a chain of groups.

    Each run of groups is tried from every group on; a group that cannot be part of either shape
    (one digit, or two digits anywhere but an SSN's middle) ends the run, so a long list of small
    numbers costs one step per group.
    """
    out: list[Finding] = []
    cards, ssns = "CREDIT_CARD" in wanted, "US_SSN" in wanted
    for i, first in enumerate(chain):
        if len(first[2]) < 3:
            continue
        number, grouped = "", True
        for j in range(i, len(chain)):
            group = chain[j][2]
            if len(group) < 2 or (len(group) == 2 and j != i + 1):
                break
            number += group
            grouped = grouped and len(group) >= 3
            if len(number) > 19:
                break
            s, e = start + first[0], start + chain[j][1]
            if cards and len(number) >= 13 and (grouped or i == j) and valid.card_number(number) \
                    and not _glued(text, s, e):
                out.append(_scored(text, "CREDIT_CARD", s, e, 0.8))
            if ssns and len(number) == 9 and valid.us_ssn(number) and not _glued(text, s, e):
                shape = [len(g[2]) for g in chain[i:j + 1]]
                if shape in ([3, 2, 4], [9]):
                    out.append(_scored(text, "US_SSN", s, e, 0.6 if shape == [3, 2, 4] else 0.3))
    return out


def _chained_groups(span: str) -> list[list[tuple[int, int, str]]]:
    """Digit groups of ``span``, chained while one separator (space, hyphen, dot, line break) joins them."""
    chains: list[list[tuple[int, int, str]]] = []
    previous_end = -1
    for match in _DIGIT_GROUP.finditer(span):
        group = (match.start(), match.end(), match.group())
        between = span[previous_end:match.start()] if previous_end >= 0 else None
        if chains and between is not None and _SEPARATOR.fullmatch(between):
            chains[-1].append(group)
        else:
            chains.append([group])
        previous_end = match.end()
    return chains


def _phones(text: str, start: int, span: str, regions: tuple[str, ...]) -> list[Finding]:
    out: list[Finding] = []
    seen: set[tuple[int, int]] = set()
    # a line break inside a number (or "\\n" inside JSON text) read as the space it replaced; same length
    readable = span.replace("\\n", "  ").replace("\r", " ").replace("\n", " ")
    _phones_in_run(text, start, readable, regions, seen=seen, out=out)
    return out


def _phones_in_run(text: str, start: int, run: str, regions: tuple[str, ...], *, seen: set[tuple[int, int]],
                   out: list[Finding]) -> None:
    """Each number that starts a word in the run is parsed on its own (``phonenumbers.parse``, ~30 µs),
    ending at each of its next group boundaries (7–15 digits), the longest valid reading kept.
    ``PhoneNumberMatcher`` finds the same but costs ~300 µs a number and, over a long run of numbers,
    backtracks for minutes on hostile text. A number written bare needs a context word
    ("phone: 4155550123") before it is even parsed: a column of ids is not a column of phones."""
    import phonenumbers

    resume = 0  # a number starts a chain of digit groups, or right after the last phone found
    for begin in _PHONE_START.finditer(run):
        before = run[:begin.start()].rstrip()
        if begin.start() > resume + 1 and before and before[-1].isdigit() and \
                _SEPARATOR.fullmatch(run[len(before):begin.start()]):
            continue  # "1234 5698 7654 33": the middle of a longer number, not a phone
        window = run[begin.start():begin.start() + _PHONE_CHARS]
        ends = [m.end() for m in _DIGIT_GROUP.finditer(window)]
        if ends[0] - (window[0] in "+(") >= 7:  # written bare ("4155550123"): the number is this group alone
            if _scored(text, "PHONE", start + begin.start(), start + begin.start() + ends[0], 0.4)[3] < 0.5:
                continue
            ends = ends[:1]
        best = None
        for end in ends:
            candidate = window[:end]
            digits = sum(ch.isdigit() for ch in candidate)
            if digits > 15:
                break
            if digits >= 7 and any(_valid_phone(phonenumbers, candidate, region) for region in regions):
                best = candidate
        if best is not None:
            _phone_found(text, start + begin.start(), best, seen, out)
            resume = begin.start() + len(best)


def _valid_phone(phonenumbers: Any, candidate: str, region: str) -> bool:
    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(candidate, region)))
    except phonenumbers.NumberParseException:
        return False


def _phone_found(text: str, start: int, raw: str, seen: set[tuple[int, int]], out: list[Finding]) -> None:
    """Keep a phone number written as ``raw`` at ``start`` unless already seen, a date or glued."""
    s = start + (len(raw) - len(raw.lstrip()))
    e = start + len(raw.rstrip())
    if (s, e) in seen or _DATE.search(raw) or _glued(text, s, e):
        return
    seen.add((s, e))
    formatted = raw.lstrip().startswith("+") or any(ch in raw.strip() for ch in " -.()")
    out.append(_scored(text, "PHONE", s, e, 0.6 if formatted else 0.4))


def _ibans(text: str) -> list[Finding]:
    out = []
    for match in _SCANS["iban"].finditer(text):
        candidate = match.group()
        length = valid.iban_length(candidate[:2])
        if length is None or _glued(text, match.start(), match.start() + 1, before_only=True):
            continue
        kept, end = 0, match.start()
        for offset, ch in enumerate(candidate):
            if not ch.isspace():
                kept += 1
            if kept == length:
                end = match.start() + offset + 1
                break
        compact = "".join(text[match.start():end].split())
        if kept == length and valid.iban(compact) and not (end < len(text) and text[end].isalnum()):
            out.append(_scored(text, "IBAN", match.start(), end, 0.9))
    return out


def _ipv6(text: str) -> list[Finding]:
    out = []
    for match in _SCANS["ipv6"].finditer(text):
        candidate = match.group().strip(".:") if not match.group().startswith("::") else match.group().rstrip(".:")
        s = match.start() + match.group().find(candidate)
        e = s + len(candidate)
        if ":" in candidate and valid.ip_address(candidate) and not _glued(text, s, e, letters_only=True):
            out.append(_scored(text, "IP_ADDRESS", s, e, 0.7))
    return out


def _tokens(text: str, wanted: frozenset[str], regions: tuple[str, ...], depth: int) -> list[Finding]:
    out: list[Finding] = []
    for match in _SCANS["token"].finditer(text):
        token, s = match.group(), match.start()
        if depth == 0:
            encoded = token.strip(".")  # a sentence's full stop is not base64
            inner = _base64_findings(encoded, wanted, regions) if len(encoded) >= _BASE64_MIN else None
            if inner is not None:
                e = s + token.find(encoded)
                out.append(_scored(text, inner[0], e, e + len(encoded), inner[1]))
                continue
        if "API_KEY" not in wanted:
            continue
        shape = _SHAPES.search(token)
        if shape is not None:
            out.append(("API_KEY", s + shape.start(), s + shape.end(), 0.95))
            continue
        # name=value inside one token (query strings): the value is the candidate, its name the context
        offset = 0
        for part in token.rstrip("=").split("="):
            stripped = part.strip(".-_")
            if stripped:
                out += _generic_key(text, stripped, s + offset + part.find(stripped), token)
            offset += len(part) + 1
    return out


def _generic_key(text: str, token: str, start: int, whole: str) -> list[Finding]:
    kinds = (any(c.isdigit() for c in token), any(c.islower() for c in token), any(c.isupper() for c in token))
    if len(token) < 20 or len(token) > 512 or sum(kinds) < 2 or _UUID.fullmatch(token):
        return []
    entropy = valid.entropy_bits(token)
    hexadecimal = _HEX.fullmatch(token) is not None
    if entropy < (3.0 if hexadecimal else 3.8) or "." in token:
        return []
    base = 0.55 if all(kinds) and len(token) >= 32 and entropy >= 4.3 and "/" not in token else 0.3
    if (len(token) > 64 or "+" in whole or "/" in whole or whole.endswith("=")) and _is_base64(whole):
        base = 0.15  # base64 data (an image, a ciphertext): a key only where its context says so
    return [_scored(text, "API_KEY", start, start + len(token), base)]


def _is_base64(token: str) -> bool:
    try:
        base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _base64_findings(token: str, wanted: frozenset[str], regions: tuple[str, ...]) -> tuple[str, float] | None:
    """(entity, score) of the best finding in the text ``token`` decodes to, when it is base64 text."""
    body = token.rstrip("=")
    if len(token) % 4 or len(token) > 1 << 16 or not body or "." in token or "_" in token or "-" in token:
        return None
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if sum(ch.isprintable() or ch.isspace() for ch in decoded) < 0.95 * len(decoded):
        return None
    inner = _resolve(_candidates(normalize(decoded).text, wanted, regions, depth=1), 0.5)
    if not inner:
        return None
    best = max(inner, key=lambda f: f[3])
    return best[0], best[3]


def _glued(text: str, start: int, end: int, *, letters_only: bool = False, before_only: bool = False) -> bool:
    """True when the match is part of a longer word or number (``A4111…``, ``v1.2.3.4``, ``…4111B``)."""
    def touches(ch: str) -> bool:
        return ch.isalpha() or ch == "_" or (not letters_only and ch.isdigit())
    if start > 0 and touches(text[start - 1]):
        return True
    return not before_only and end < len(text) and touches(text[end])


def _scored(text: str, entity: str, start: int, end: int, base: float) -> Finding:
    """``base`` moved by the nearest context word in the window before the match."""
    pattern = _CONTEXT.get(entity)
    if pattern is None:
        return entity, start, end, base
    window = text[max(0, start - _WINDOW):start].lower()
    last = None
    for last in pattern.finditer(window):  # noqa: B007 - the nearest (last) context word decides
        pass
    if last is None:
        return entity, start, end, base
    if last.group("pos") is not None:
        return entity, start, end, min(1.0, base + 0.35)
    return entity, start, end, max(0.0, base - 0.45)


def _resolve(found: list[Finding], threshold: float) -> list[Finding]:
    """The findings at or over ``threshold``, overlaps settled by score then length, in text order."""
    kept: list[Finding] = []
    starts: list[int] = []  # of the kept findings, which never overlap: sorted by start, so by end too
    ends: list[int] = []
    for finding in sorted((f for f in found if f[3] >= threshold), key=lambda f: (-f[3], f[1] - f[2], f[1])):
        at = bisect.bisect_left(starts, finding[2])  # kept findings starting before this one ends
        if at and ends[at - 1] > finding[1]:  # only the last of them can reach into it
            continue
        starts.insert(at, finding[1])
        ends.insert(at, finding[2])
        kept.insert(at, finding)
    return kept
