"""Characters a snapshot may use: the ones every common font draws, so no reader sees an empty box.

Snapshots are read where we choose no font (GitHub, nbviewer, an HTML export, a terminal). The safe
set is printable ASCII, Latin-1 (``·`` and ``×`` among it), the dashes, quotes, bullet and ellipsis
of General Punctuation, the four plain arrows ``← ↑ → ↓`` and the minus sign ``−`` (a diff's
removed-lines count): all are in WGL4, the glyph list
Windows' core fonts were made to cover and Arial, Times New Roman, Helvetica, DejaVu and Liberation
all cover. Emoji and symbol-block characters (``✅ ❌ ⚠ ▶ ↳ ⋯ ∅ ✓``) come from emoji or symbol fonts
and show as boxes without them, so a snapshot says it in words, ASCII or colour instead.
"""

from __future__ import annotations

SAFE_PUNCTUATION = frozenset("–—‘’“”•…←↑→↓−")


def is_safe(char: str) -> bool:
    code = ord(char)
    return char in "\n\t" or 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF or char in SAFE_PUNCTUATION


def unsafe_glyphs(text: str) -> set[str]:
    """The characters of ``text`` outside the safe set (empty: every common font draws it)."""
    return {c for c in text if not is_safe(c)}
