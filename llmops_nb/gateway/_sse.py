"""Server-sent events as bytes: cut a byte stream into whole events, read an event's fields, write one.

The gateway passes upstream events on unchanged, so it works on the raw bytes and only looks
inside an event when it must (usage, translation). An event ends at a blank line, and the SSE
spec allows three line endings (``\\r\\n``, ``\\n``, ``\\r``); providers use ``\\n``, but a proxy
in between may not, so all three are recognised.
"""

from __future__ import annotations

import re

__all__ = ["EventSplitter", "fields", "frame"]

# One line ending (a lone \r only when not the start of \r\n), twice: the blank line ending an event.
_EVENT_END = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")
_CR = 13


class EventSplitter:
    """Feed it network chunks; it returns each complete event's bytes, trailing blank line included.

    >>> s = EventSplitter()
    >>> s.feed(b"data: 1\\n\\ndata: "), s.feed(b"2\\n\\n")
    ([b'data: 1\\n\\n'], [b'data: 2\\n\\n'])
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        buffer = self._buffer
        if not buffer and chunk.endswith(b"\n\n") and chunk.count(b"\n\n") == 1 and b"\r" not in chunk:
            return [chunk]  # the common case: one whole event per network read
        # a blank line may straddle the old and new bytes: rescan the old tail
        start = max(0, len(buffer) - 3)
        buffer += chunk
        events: list[bytes] = []
        position = 0
        while True:
            match = _EVENT_END.search(buffer, max(start, position))
            if match is None:
                break
            end = match.end()
            if end == len(buffer) and buffer[end - 1] == _CR:
                break  # this \r may be the first half of \r\n in the next chunk
            events.append(bytes(buffer[position:end]))
            position = end
        if position:
            del buffer[:position]
        return events

    def flush(self) -> bytes:
        """What is left at the end of the stream (an event without its blank line), or b""."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest


def fields(event: bytes) -> tuple[str | None, bytes]:
    """An event's ``event:`` name (None when absent) and its data lines joined by newlines."""
    name: str | None = None
    data: list[bytes] = []
    for line in event.splitlines():
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value[:1] == b" " else value)
        elif line.startswith(b"event:"):
            value = line[6:]
            name = (value[1:] if value[:1] == b" " else value).decode("utf-8", "replace")
    return name, b"\n".join(data)


def frame(data: bytes, name: str | None = None) -> bytes:
    """One event's bytes: an optional ``event:`` line, the ``data:`` line, the blank line."""
    if name is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"
