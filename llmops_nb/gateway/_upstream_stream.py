"""One upstream answer as a stream of server-sent events, passed on byte for byte while usage is read off it.

:meth:`UpstreamStream.events` yields each complete event exactly as the upstream sent it (its
blank line included), in order. Looking inside costs, so an event is parsed only when a cheap
byte test says it may carry what the gateway needs: OpenAI's usage chunk, Anthropic's
``message_start`` / ``message_delta`` usage, an error event. One event is held back: the
usage-only chunk (``choices: []``) the gateway asked OpenAI for when the client had not, so the
client receives exactly what it would have received without the gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2 as httpx

from ._sse import EventSplitter, fields
from ._types import FailureKind, Protocol, UpstreamFailure, Usage
from ._upstream_errors import failure_from_exception, scrub
from ._wire import loads, usage_from_chat, usage_from_messages

__all__ = ["UpstreamStream"]


class UpstreamStream:
    """An upstream's 2xx streamed answer. Iterate :meth:`events` once; :attr:`usage` is complete after it.

    ``error`` is set when the upstream sent an error event mid-stream (passed on to the client
    unchanged; the gateway records the attempt as failed). A dropped connection raises
    ``UpstreamFailure(kind="connection")`` (a stalled one ``"timeout"``) from :meth:`events`.
    """

    def __init__(self, response: httpx.Response, protocol: Protocol, *, drop_usage_chunk: bool, where: str,
                 timeout: float, secret: str | None, blocking: bool = False) -> None:
        self.usage = Usage()
        self.error: UpstreamFailure | None = None
        self.status = response.status_code
        self.headers = response.headers
        self._response = response
        self._protocol = protocol
        self._drop_usage_chunk = drop_usage_chunk
        self._where, self._timeout, self._secret = where, timeout, secret
        self._blocking = blocking  # a sync httpx response, read on a sync caller's private loop

    async def events(self) -> AsyncIterator[bytes]:
        """Each event's raw bytes, in order; the connection is released when the stream ends or fails."""
        keep = self._openai_event if self._protocol == "openai" else self._anthropic_event
        splitter = EventSplitter()
        try:
            if self._blocking:
                for chunk in self._response.iter_bytes():
                    for event in splitter.feed(chunk):
                        if keep(event):
                            yield event
            else:
                async for chunk in self._response.aiter_bytes():
                    for event in splitter.feed(chunk):
                        if keep(event):
                            yield event
            rest = splitter.flush()
            if rest and keep(rest):
                yield rest  # the last event lacked its blank line: passed on as it came
        except httpx.HTTPError as exc:  # dropped mid-body (incomplete chunked read), or stalled
            raise failure_from_exception(exc, self._where, self._timeout, secret=self._secret) from exc
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Release the connection (idempotent); for a consumer that stops before the end."""
        if self._blocking:
            self._response.close()
        else:
            await self._response.aclose()

    # -- taps: True = pass the event on -------------------------------------------------------------
    def _openai_event(self, event: bytes) -> bool:
        if event.startswith(b'data: {"error"'):
            self._record_error(event, "server")
            return True
        # every chunk says "usage":null once the client asked for usage; only the real one is parsed
        if b'"usage"' not in event or b'"usage":null' in event or b'"usage": null' in event:
            return True
        obj = self._json(event)
        if obj is None or not isinstance(obj.get("usage"), dict):
            return True
        self.usage = usage_from_chat(obj["usage"], obj.get("model"))
        return not (self._drop_usage_chunk and obj.get("choices") == [])

    def _anthropic_event(self, event: bytes) -> bool:
        if b"message_start" in event or b"message_delta" in event:
            obj = self._json(event)
            if obj is not None and obj.get("type") == "message_start":
                message = obj.get("message") or {}
                self.usage = usage_from_messages(message.get("usage"), message.get("model"))
            elif obj is not None and obj.get("type") == "message_delta" and isinstance(obj.get("usage"), dict):
                # cumulative counts; newer API versions repeat the input counts here too
                latest = usage_from_messages(obj["usage"])
                self.usage = Usage(latest.input_tokens if latest.input_tokens is not None else self.usage.input_tokens,
                                   latest.output_tokens if latest.output_tokens is not None
                                   else self.usage.output_tokens, self.usage.model)
        elif event.startswith((b"event: error", b"event:error")):
            self._record_error(event, "server")
        return True

    def _json(self, event: bytes) -> dict[str, Any] | None:
        _name, data = fields(event)
        try:
            value = loads(data)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _record_error(self, event: bytes, kind: FailureKind) -> None:
        body = self._json(event)
        error = (body or {}).get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if isinstance(error, dict) and error.get("type") == "rate_limit_error":
            kind = "rate_limit"
        self.error = UpstreamFailure(kind, scrub(str(message or "The upstream stream failed."), self._secret),
                                     status=self.status, body=scrub(body, self._secret))
