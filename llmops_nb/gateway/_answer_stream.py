"""A streamed answer on its way out: its attempt's span and connection, and the request settled once.

Split from :mod:`._attempts` (which decides who answers) because a stream outlives the attempt loop:
its events are read after ``Gateway.handle`` returned, and its end — read to the last event, cut
off, closed by the client, or closed before a single event was read — is when the attempt's span
ends, its upstream connection is released, and the request's budget is settled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..tracing import Span
from ._cost import actual_cost
from ._types import Deployment, Usage


class SettlingStream:
    """A stream's events on their way to the client; the request is settled exactly once — when the
    stream ends, fails, or is closed, even closed before its first event was read (an async
    generator closed unstarted would skip its ``finally``, leaving the budget reserved)."""

    def __init__(self, events: AsyncIterator[bytes], attempt: StreamAttempt,
                 finished: Callable[[int, BaseException | None], None]) -> None:
        self._events, self._attempt, self._finished = events, attempt, finished
        self._chunks = 0
        self._done = False

    def __aiter__(self) -> SettlingStream:
        return self

    async def __anext__(self) -> bytes:
        try:
            event = await self._events.__anext__()
        except StopAsyncIteration:
            await self._close(None)
            raise
        except (GeneratorExit, asyncio.CancelledError):  # the client went away: not the stream's failure
            await self._close(None)
            raise
        except BaseException as exc:
            await self._close(exc)
            raise
        self._chunks += 1
        return event

    async def aclose(self) -> None:
        await self._close(None)

    async def _close(self, failed: BaseException | None) -> None:
        if self._done:
            return
        self._done = True
        try:
            await self._events.aclose()  # type: ignore[attr-defined]  # the attempt's async generator
            await self._attempt.close()
        finally:
            self._finished(self._chunks, failed)


class StreamAttempt:
    """The span of a stream's attempt, ended when the stream is (usage and cost as the upstream said)."""

    def __init__(self, span: Span, opened: Any) -> None:
        self.span, self.opened = span, opened
        self._closed = False

    async def wrap(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for event in events:
                yield event
        except BaseException as exc:
            if not isinstance(exc, GeneratorExit):
                self.span.record_exception(exc)
            raise
        finally:
            await self.close()

    async def close(self) -> None:
        """Release the upstream connection and end the span (once; the stream's end or its close)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.opened.aclose()
        finally:
            usage_attributes(self.span, None, self.opened.usage)
            self.span.end()


def usage_attributes(span: Span, d: Deployment | None, usage: Usage) -> None:
    attributes: dict[str, Any] = {}
    if usage.model:
        attributes["gen_ai.response.model"] = usage.model
    if usage.input_tokens is not None:
        attributes["gen_ai.usage.input_tokens"] = usage.input_tokens
    if usage.output_tokens is not None:
        attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
    deployment = d
    if deployment is not None and (usage.input_tokens is not None or usage.output_tokens is not None):
        attributes["llmops_nb.cost_usd"] = actual_cost(deployment, usage)
    span.set_attributes(attributes)
