"""A labelled PII corpus: realistic positives in chat-like sentences, and the hard negatives.

Generated from a seed (the same corpus every run, nothing downloaded): each example is a text and
the (entity, start, end) spans a careful human would mark. Positives vary format (grouped,
compact, international, separators), context (with and without a hint word) and position;
negatives are the strings that look like PII to a bare regex — order and tracking numbers (some
Luhn-valid), ISBNs, timestamps and dates, UUIDs, git SHAs, version strings, prices, ports, zip
codes, invoice numbers, base64 of binary data, hashes. Used by ``tests/test_pii.py`` (floors on
precision and recall) and ``benchmarks/pii_bench.py`` (the published table).
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
import uuid
from collections.abc import Iterator
from typing import NamedTuple


class Example(NamedTuple):
    text: str
    spans: tuple[tuple[str, int, int], ...]  # (entity, start, end)


_FIRST = ["ana", "john", "mei", "olga", "raj", "fatima", "lukas", "sofia", "kwame", "yuki", "pierre", "noor"]
_LAST = ["smith", "garcia", "chen", "novak", "patel", "haddad", "müller", "rossi", "mensah", "tanaka", "dubois"]
_DOMAINS = ["example.com", "mail.example.org", "corp.example.co.uk", "uni-example.edu", "example.io", "startup.dev"]


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        candidate = body + check
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            d = int(ch)
            if i % 2:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def _card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15),
                                 ("6011", 16), ("65", 16), ("3530", 16), ("62", 16)])
    number = _luhn_complete(prefix + "".join(rng.choice(string.digits) for _ in range(0)), length, rng)
    style = rng.randrange(4)
    if style == 0:
        return number
    groups = [number[i:i + 4] for i in range(0, len(number), 4)] if length == 16 else \
        [number[:4], number[4:10], number[10:]]
    return (" ", "-", " ", "  ")[style].join(groups) if style < 3 else " ".join(groups)


def _iban(rng: random.Random) -> str:
    country, bban_len = rng.choice([("DE", 18), ("GB", 18), ("FR", 23), ("NL", 14), ("ES", 20), ("IT", 23)])
    if country == "GB":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + \
            "".join(rng.choice(string.digits) for _ in range(14))
    elif country == "NL":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + \
            "".join(rng.choice(string.digits) for _ in range(10))
    elif country == "IT":
        bban = rng.choice(string.ascii_uppercase) + "".join(rng.choice(string.digits) for _ in range(22))
    else:
        bban = "".join(rng.choice(string.digits) for _ in range(bban_len))
    numeric = int("".join(str(int(ch, 36)) for ch in bban + country + "00"))
    iban = f"{country}{98 - numeric % 97:02d}{bban}"
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.6 else iban


def _ssn(rng: random.Random) -> str:
    while True:
        area = rng.randrange(1, 900)
        if area != 666:
            break
    number = f"{area:03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"
    return number if rng.random() < 0.8 else number.replace("-", " ")


def _phone(rng: random.Random) -> str:
    kind = rng.randrange(5)
    area = rng.choice(["212", "415", "312", "617", "206", "512", "303", "404"])
    exchange = f"{rng.randrange(2, 10)}{rng.randrange(0, 10)}{rng.randrange(0, 10)}"
    line = f"{rng.randrange(0, 10000):04d}"
    if kind == 0:
        return f"({area}) {exchange}-{line}"
    if kind == 1:
        return f"{area}-{exchange}-{line}"
    if kind == 2:
        return f"+1 {area} {exchange} {line}"
    if kind == 3:
        return f"+44 20 7{rng.randrange(100, 1000)} {rng.randrange(1000, 10000)}"
    return f"+49 30 {rng.randrange(1000000, 9999999)}"


def _ip(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"{rng.randrange(11, 223)}.{rng.randrange(0, 256)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"
    if kind == 1:
        return f"10.{rng.randrange(0, 256)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"
    if kind == 2:
        return f"2001:db8:{rng.randrange(0, 65536):x}:{rng.randrange(0, 65536):x}::{rng.randrange(1, 65536):x}"
    groups = [f"{rng.randrange(0, 65536):x}" for _ in range(8)]
    return ":".join(groups)


def _key(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits
    kind = rng.randrange(5)
    if kind == 0:
        return "sk-proj-" + "".join(rng.choice(alphabet) for _ in range(40))
    if kind == 1:
        return "ghp_" + "".join(rng.choice(alphabet) for _ in range(36))
    if kind == 2:
        return "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    if kind == 3:
        return "sk-ant-api03-" + "".join(rng.choice(alphabet + "-_") for _ in range(60))
    return "".join(rng.choice(alphabet) for _ in range(40))  # a generic key: found by its context


def _email(rng: random.Random) -> str:
    local = rng.choice(_FIRST) + rng.choice([".", "_", "", "+news."]) + rng.choice(_LAST).replace("ü", "u")
    if rng.random() < 0.3:
        local += str(rng.randrange(1, 99))
    address = f"{local}@{rng.choice(_DOMAINS)}"
    return address.upper() if rng.random() < 0.1 else address


_POSITIVE_TEMPLATES = {
    "EMAIL": ["Please reply to {v} with the invoice.", "{v}", "From: {n} <{v}>", "contact me at {v}, thanks!",
              "The user ({v}) asked about refunds.", '{{"email": "{v}", "plan": "pro"}}'],
    "PHONE": ["Call me at {v} after 5pm.", "My phone number is {v}.", "Tel: {v}", "you can reach me on {v}",
              "mobile {v} (whatsapp too)", "Phone {v}"],
    "CREDIT_CARD": ["My card number is {v}, exp 04/27.", "charge the visa {v} please", "Card: {v}",
                    "payment with {v} failed", "use credit card {v}"],
    "IBAN": ["Send it to IBAN {v}.", "bank account: {v}", "{v}", "Please wire the refund to {v} by Friday."],
    "US_SSN": ["SSN: {v}", "my social security number is {v}", "Employee {n}, SSN {v}, start date Monday.",
               "the ssn on file is {v}"],
    "IP_ADDRESS": ["Login from IP {v} was blocked.", "server {v} is down", "client address {v}",
                   "connect to {v} on port 22", "Request from {v}"],
    "API_KEY": ["api_key = '{v}'", "My key is {v}, is that right?", "export TOKEN={v}", "Authorization token: {v}",
                "secret: {v}"],
}
_GENERATORS = {"EMAIL": _email, "PHONE": _phone, "CREDIT_CARD": _card, "IBAN": _iban, "US_SSN": _ssn,
               "IP_ADDRESS": _ip, "API_KEY": _key}


def _disguise(value: str, rng: random.Random) -> str:
    """An attacker's spelling of ``value``: still readable PII, no longer a plain pattern."""
    kind = rng.randrange(4)
    if kind == 0:  # a zero-width space or soft hyphen inside
        cut = rng.randrange(1, len(value))
        return value[:cut] + rng.choice("\u200b\u00ad\u2060") + value[cut:]
    if kind == 1:  # full-width digits and letters
        return "".join(chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch for ch in value)
    if kind == 2 and sum(ch.isdigit() for ch in value) > 8:  # a line break between digit groups
        spaces = [i for i, ch in enumerate(value) if ch == " "]
        if spaces:
            i = rng.choice(spaces)
            return value[:i] + "\n" + value[i + 1:]
    return base64.b64encode(value.encode()).decode()  # base64-wrapped


def _negatives(rng: random.Random) -> Iterator[str]:
    """Texts with no PII that a bare pattern would flag."""
    for _ in range(40):
        order = _luhn_complete("4", 16, rng) if rng.random() < 0.5 else "".join(rng.choice(string.digits)
                                                                                  for _ in range(16))
        yield rng.choice([f"Order #{order} has shipped.", f"order number {order}", f"Your invoice {order} is attached.",
                          f"tracking number {order}", f"ref {order}"])
    for _ in range(20):
        r = rng.randrange
        yield f"ISBN 978-{r(0, 10)}-{r(10, 100)}-{r(100000, 999999)}-{r(10)}"
        yield f"ISBN {rng.randrange(10**12, 10**13)}"
    for _ in range(30):
        yield (f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d} {rng.randrange(24):02d}:"
               f"{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(10**6):06d} INFO request done")
        yield f"timestamp {rng.randrange(1_600_000_000_000, 1_800_000_000_000)} ms"
    for _ in range(30):
        yield f"trace id {uuid.UUID(int=rng.getrandbits(128))}"
        yield f"commit {hashlib.sha1(str(rng.random()).encode()).hexdigest()} fixed it"
        yield f"sha256: {hashlib.sha256(str(rng.random()).encode()).hexdigest()}"
    for _ in range(30):
        r = rng.randrange
        yield f"upgrade to version {r(1, 10)}.{r(0, 20)}.{r(0, 30)}.{r(0, 300)}"
        yield f"numpy=={rng.randrange(1, 3)}.{rng.randrange(0, 30)}.{rng.randrange(0, 10)}, python 3.11.7"
        yield f"The total is ${rng.randrange(1, 100000):,}.{rng.randrange(100):02d} for {rng.randrange(1, 50)} items."
        yield f"listening on localhost:{rng.randrange(1024, 65536)}"
        yield f"ZIP {rng.randrange(10000, 99999)}, case {rng.randrange(100000, 999999)}"
        yield f"SKU {rng.randrange(10**9, 10**10)}-{rng.randrange(100, 999)}"
    for _ in range(20):
        r = rng.randrange
        blob = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(rng.randrange(30, 90)))).decode()
        yield f'{{"image": "{blob}"}}'
        yield f"std::vector<int> v; a::b::c(); at 10:30:00 the cron ran {rng.randrange(1, 60)} jobs"
        yield f"call_id=call_{rng.randrange(10**6, 10**7)} model=gpt-4o-mini tokens={rng.randrange(10, 5000)}"
        yield f"population {rng.randrange(10**8, 10**9)} in {rng.randrange(1990, 2026)}"
        yield f"due {r(1, 13)}/{r(1, 29)}/{r(2020, 2030)}, amount {r(10**6, 10**7)}"
        yield f"Ticket #{rng.randrange(10**9, 10**10)} closed"
        yield f"/usr/lib/python3.11/site-packages/{rng.choice(_LAST)}/module_{r(100)}.py line {r(1, 900)}"


def corpus(seed: int = 7, per_entity: int = 120) -> list[Example]:
    """The labelled examples: ``per_entity`` positives for each entity, then the negatives, shuffled."""
    rng = random.Random(seed)
    examples: list[Example] = []
    for entity, generate in _GENERATORS.items():
        for _ in range(per_entity):
            value = _disguise(generate(rng), rng) if rng.random() < 0.2 else generate(rng)
            # a fifth with no hint at all: the value alone, or in a sentence about something else
            template = rng.choice(_POSITIVE_TEMPLATES[entity]) if rng.random() < 0.8 else \
                rng.choice(["{v}", "see {v} below", "{v} -- as discussed", "Thanks! {v}"])
            name = f"{rng.choice(_FIRST).title()} {rng.choice(_LAST).title()}"
            before, _, after = template.partition("{v}")
            before = before.replace("{n}", name).replace("{{", "{").replace("}}", "}")
            after = after.replace("{n}", name).replace("{{", "{").replace("}}", "}")
            examples.append(Example(before + value + after, ((entity, len(before), len(before) + len(value)),)))
    examples += [Example(text, ()) for text in _negatives(rng)]
    rng.shuffle(examples)
    return examples


def score(found: list[tuple[str, int, int]], expected: tuple[tuple[str, int, int], ...],
          counts: dict[str, list[int]]) -> None:
    """Add one example's true positives, false positives and false negatives per entity to ``counts``.

    A finding is right when it overlaps a labelled span of the same entity (a mask over it hides
    the value); a labelled span nobody overlapped is missed.
    """
    for entity, start, end in found:
        hit = any(e == entity and start < e_end and end > e_start for e, e_start, e_end in expected)
        counts.setdefault(entity, [0, 0, 0])[0 if hit else 1] += 1
    for entity, start, end in expected:
        if not any(e == entity and start < f_end and end > f_start for e, f_start, f_end in found):
            counts.setdefault(entity, [0, 0, 0])[2] += 1
