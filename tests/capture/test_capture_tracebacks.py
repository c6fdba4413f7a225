"""A failed SDK call raises with the untraced call's traceback; its span stores that traceback.

Each failure is made twice through the real SDK against the fake server, with capture off and on,
and the two exceptions compare frame by frame (file, function, line), with their chains: no frame
of ``llmops_nb/integrations`` between the caller's frames and the SDK's. Sync, async and streamed
calls, the stream helpers, and an error raised while a stream is being read. A Ctrl-C during a
call reaches the user as the very object raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import types
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pydantic
import pytest

import llmops_nb
from tests.capture.drivers import DRIVERS, only_span
from tests.fakes import FakeLLMServer, Reply
from tests.support import PACKAGE, assert_untraced_traceback, frames

PROVIDERS = ("openai", "anthropic")
Scenario = Callable[[Any, FakeLLMServer], Any]


class City(pydantic.BaseModel):
    name: str


def _server_error(sdk: Any, server: FakeLLMServer) -> None:
    server.enqueue(Reply.error(500, "The server had an error"))
    with sdk.client() as client:
        sdk.resource(client).create(**sdk.request())


def _bad_request(sdk: Any, server: FakeLLMServer) -> None:
    server.enqueue(Reply.error(400, "Invalid 'messages': empty", error_type="invalid_request_error"))
    with sdk.client() as client:
        sdk.resource(client).create(**sdk.request())


def _parse_bad_request(sdk: Any, server: FakeLLMServer) -> None:
    server.enqueue(Reply.error(400, "Invalid schema"))
    with sdk.client() as client:
        sdk.parse(client, City, "Capital?")


def _missing_argument(sdk: Any, server: FakeLLMServer) -> None:
    with sdk.client() as client:
        sdk.resource(client).create(model=sdk.model)  # the SDK's own check raises TypeError: no messages


@contextlib.contextmanager
def _refusing_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: a connection to it is refused
        yield int(sock.getsockname()[1])


def _connection_refused(sdk: Any, server: FakeLLMServer) -> None:
    with _refusing_port() as port:
        unreachable = types.SimpleNamespace(openai_base_url=f"http://127.0.0.1:{port}/v1",
                                            anthropic_base_url=f"http://127.0.0.1:{port}")
        with DRIVERS[sdk.name](unreachable).client() as client:
            sdk.resource(client).create(**sdk.request())


def _stream_error_event(sdk: Any, server: FakeLLMServer) -> None:
    server.enqueue(Reply(text="a b c d", fail_after=sdk.events_before_text + 1))
    with sdk.client() as client:
        for _ in sdk.resource(client).create(**sdk.stream_request()):
            pass


def _stream_disconnect(sdk: Any, server: FakeLLMServer) -> None:
    server.enqueue(Reply(text="a b c d", fail_after=sdk.events_before_text + 1, failure="disconnect"))
    with sdk.client() as client:
        list(sdk.resource(client).create(**sdk.stream_request()))


def _helper_server_error(sdk: Any, server: FakeLLMServer) -> None:
    server.enqueue(Reply.error(500))
    with sdk.client() as client, sdk.helper(client, **sdk.request()):
        pass


def _helper_error_midway(sdk: Any, server: FakeLLMServer) -> None:
    server.enqueue(Reply(text="a b c d", fail_after=sdk.events_before_text + 1))
    with sdk.client() as client, sdk.helper(client, **sdk.request()) as stream:
        for _ in stream:
            pass


def _async_server_error(sdk: Any, server: FakeLLMServer) -> None:
    server.enqueue(Reply.error(500))

    async def call() -> None:
        async with sdk.async_client() as client:
            await sdk.resource(client).create(**sdk.request())

    asyncio.run(call())


def _async_stream_error_event(sdk: Any, server: FakeLLMServer) -> None:
    server.enqueue(Reply(text="a b c d", fail_after=sdk.events_before_text + 1))

    async def read() -> None:
        async with sdk.async_client() as client:
            async for _ in await sdk.resource(client).create(**sdk.stream_request()):
                pass

    asyncio.run(read())


def _async_helper_error_midway(sdk: Any, server: FakeLLMServer) -> None:
    server.enqueue(Reply(text="a b c d", fail_after=sdk.events_before_text + 1))

    async def read() -> None:
        async with sdk.async_client() as client, sdk.helper(client, **sdk.request()) as stream:
            async for _ in stream:
                pass

    asyncio.run(read())


SCENARIOS: list[Scenario] = [
    _server_error, _bad_request, _parse_bad_request, _missing_argument, _connection_refused, _stream_error_event,
    _stream_disconnect, _helper_server_error, _helper_error_midway, _async_server_error, _async_stream_error_event,
    _async_helper_error_midway,
]


def _failure(scenario: Scenario, sdk: Any, server: FakeLLMServer) -> BaseException:
    try:
        scenario(sdk, server)
    except Exception as exc:  # the SDK's error, compared below
        return exc
    raise AssertionError("expected the call to fail")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__.strip("_"))
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_failed_call_raises_with_the_untraced_traceback(server, sdk, scenario):
    llmops_nb.autolog(disable=True)
    plain = _failure(scenario, sdk, server)
    llmops_nb.autolog()
    with llmops_nb.span("cell") as root:
        traced = _failure(scenario, sdk, server)

    assert_untraced_traceback(traced, plain)
    span = only_span(root)  # the call was traced, and its span keeps the same traceback
    assert span["status"] == "ERROR" and span["error"]["type"].endswith(type(plain).__name__)
    stored = span["error"]["traceback"]
    assert PACKAGE not in stored and "Traceback (most recent call last)" in stored
    filename, name, line = (frames(plain) or [])[-1]
    assert f'File "{filename}", line {line}, in {name}' in stored  # down to where the SDK raised


class _Interrupting:
    """An HTTP transport that raises the given exception: the user's Ctrl-C while a request is out."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def handle_request(self, request: Any) -> Any:
        raise self.error

    def close(self) -> None:
        pass


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_interrupted_call_raises_the_very_same_exception(sdk):
    client_class = getattr(sdk.sdk, {"openai": "OpenAI", "anthropic": "Anthropic"}[sdk.name])

    def interrupted(error: BaseException) -> BaseException:
        http = httpx2.Client(transport=_Interrupting(error))
        with client_class(api_key="sk-test", base_url=sdk.base_url, max_retries=0, http_client=http) as client:
            try:
                sdk.resource(client).create(**sdk.request())
            except KeyboardInterrupt as exc:
                return exc
        raise AssertionError("expected the call to be interrupted")

    llmops_nb.autolog(disable=True)
    plain_error, traced_error = KeyboardInterrupt(), KeyboardInterrupt()
    plain = interrupted(plain_error)
    llmops_nb.autolog()
    with llmops_nb.span("cell") as root:
        traced = interrupted(traced_error)
    assert plain is plain_error and traced is traced_error
    assert_untraced_traceback(traced, plain)
    assert only_span(root)["status"] == "ERROR"
