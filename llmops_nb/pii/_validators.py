"""Checks that turn a pattern's candidate into PII: checksums, number plans, registries, entropy
(phone numbers: ``phonenumbers``' own matcher, in ``_detect``).

A pattern alone finds every 16-digit order number and every ``1.2.3.4`` version; these say whether
the digits can be what they look like. Each takes the candidate's characters and returns a bool.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter

__all__ = ["card_number", "entropy_bits", "iban", "iban_length", "ip_address", "luhn", "us_ssn"]


def luhn(digits: str) -> bool:
    """The Luhn mod-10 checksum every payment card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Issuer prefixes and lengths (ISO/IEC 7812 registrations of the networks still issuing): a
# Luhn-valid number outside them is an order or account number, not a card.
_CARD_PREFIXES: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("4", "4", (13, 16, 19)),                  # Visa
    ("51", "55", (16,)), ("2221", "2720", (16,)),  # Mastercard
    ("34", "34", (15,)), ("37", "37", (15,)),      # American Express
    ("6011", "6011", (16, 19)), ("644", "649", (16, 19)), ("65", "65", (16, 19)),  # Discover
    ("3528", "3589", (16, 19)),                    # JCB
    ("300", "305", (14,)), ("36", "36", (14,)), ("38", "39", (14, 16)),  # Diners Club
    ("62", "62", (16, 17, 18, 19)),                # UnionPay
    ("50", "50", (16, 19)), ("56", "58", (16, 19)), ("67", "69", (16, 19)),  # Maestro
)


def card_number(digits: str) -> bool:
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1 or not luhn(digits):
        return False
    for low, high, lengths in _CARD_PREFIXES:
        prefix = digits[:len(low)]
        if low <= prefix <= high and len(digits) in lengths:
            return True
    return False


# IBAN lengths by country (the SWIFT IBAN registry): the length is part of the validation.
_IBAN_LENGTHS = dict(
    AD=24, AE=23, AL=28, AT=20, AZ=28, BA=20, BE=16, BG=22, BH=22, BI=27, BR=29, BY=28, CH=21, CR=22, CY=28,
    CZ=24, DE=22, DJ=27, DK=18, DO=28, EE=20, EG=29, ES=24, FI=18, FK=18, FO=18, FR=27, GB=22, GE=22, GI=23,
    GL=18, GR=27, GT=28, HR=21, HU=28, IE=22, IL=23, IQ=23, IS=26, IT=27, JO=30, KW=30, KZ=20, LB=28, LC=32,
    LI=21, LT=20, LU=20, LV=21, LY=25, MC=27, MD=24, ME=22, MK=19, MN=20, MR=27, MT=31, MU=30, NI=28, NL=18,
    NO=15, OM=23, PK=24, PL=28, PS=29, PT=25, QA=29, RO=24, RS=22, RU=33, SA=24, SC=31, SD=18, SE=24, SI=19,
    SK=24, SM=27, SO=23, ST=25, SV=28, TL=23, TN=24, TR=26, UA=29, VA=22, VG=24, XK=20, YE=30,
)


def iban_length(country: str) -> int | None:
    return _IBAN_LENGTHS.get(country)


def iban(compact: str) -> bool:
    """``compact``: the IBAN without spaces, upper case. Length by country, then ISO 7064 mod 97-10."""
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


# Numbers the SSA never issued or that were published as examples (a wallet card, a booklet):
# they appear in documents as placeholders, not as anyone's number.
_SSN_EXAMPLES = frozenset({"078051120", "219099999", "123456789", "111111111", "333333333", "987654320",
                           "987654321", "987654322", "987654323", "987654324", "987654325", "987654326",
                           "987654327", "987654328", "987654329"})


def us_ssn(digits: str) -> bool:
    """Area 001–899 except 666, group 01–99, serial 0001–9999; not a published example."""
    if len(digits) != 9 or digits in _SSN_EXAMPLES or len(set(digits)) == 1:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area < "900" and group != "00" and serial != "0000"


def ip_address(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if address.version == 6:
        # "::", "::1"-like fragments of code (std::max, a::b) are valid addresses but not PII
        return sum(1 for part in text.split(":") if part) >= 3
    return not address.is_unspecified


def entropy_bits(text: str) -> float:
    """Shannon entropy per character: ~4.5+ for random keys, ~3–3.5 for words and identifiers."""
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values()) if n else 0.0
