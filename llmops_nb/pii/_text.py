"""Text as an attacker writes it, made scannable: invisible and full-width characters undone.

PII hidden from a pattern by a zero-width space (``4111\u200b1111…``), a soft hyphen or full-width
digits (``４１１１``) is still PII to the person reading it. :func:`normalize` returns the text with
those characters removed or folded to ASCII, plus a map back to the original offsets, so a match
found in the normalized text masks exactly the right characters of the original.

Only a few code points change, so the map is the sorted list of removals: ASCII text (nearly all
of it) is returned as is without a per-character pass — 50 MB of it costs one ``isascii()``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

# Zero-width and formatting characters that render as nothing: ZW space/non-joiner/joiner, LRM/RLM,
# word joiner and invisible operators, BOM / ZW no-break space, soft hyphen.
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
# Full-width ASCII (U+FF01–FF5E is ASCII 0x21–0x7E shifted by 0xFEE0) and the ideographic space.
_SPECIAL = re.compile(f"[{_INVISIBLE}\uff01-\uff5e\u3000]")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Normalized:
    """``text`` as scanned, and where each of its characters came from in the original."""

    text: str
    # norm_index of each removed character's successor, and the count removed so far (both ascending)
    _at: list[int] = field(default_factory=list)
    _removed: list[int] = field(default_factory=list)

    def original(self, start: int, end: int) -> tuple[int, int]:
        """The original ``(start, end)`` of the normalized span ``[start, end)``."""
        if not self._at:
            return start, end
        first = bisect.bisect_right(self._at, start) - 1
        # the end maps through its last character, so invisible characters after it stay outside
        last = bisect.bisect_right(self._at, end - 1) - 1
        return (start + (self._removed[first] if first >= 0 else 0),
                end + (self._removed[last] if last >= 0 else 0))


def normalize(text: str) -> Normalized:
    """Remove invisible characters, fold full-width ones to ASCII, make lone surrogates U+FFFD."""
    if _SURROGATE.search(text) is not None:  # invalid UTF-8 from a decoder; RE2 needs valid text
        text = _SURROGATE.sub("\ufffd", text)  # one character for one: offsets are unchanged
    if text.isascii() or _SPECIAL.search(text) is None:
        return Normalized(text)
    pieces: list[str] = []
    at: list[int] = []
    removed: list[int] = []
    position = gone = 0
    for match in _SPECIAL.finditer(text):
        pieces.append(text[position:match.start()])
        ch = match.group()
        if ch in _INVISIBLE:
            gone += 1
            at.append(match.start() - gone + 1)
            removed.append(gone)
        else:
            pieces.append(" " if ch == "\u3000" else chr(ord(ch) - 0xFEE0))
        position = match.end()
    pieces.append(text[position:])
    return Normalized("".join(pieces), at, removed)
