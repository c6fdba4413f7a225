"""The capture tests' one fixture set: the fake server, both SDKs autologged, a driver and a client.

A behaviour both providers share is one test with
``@pytest.mark.parametrize("provider", ["openai", "anthropic"])``; a module about
one provider defines a ``provider`` fixture instead. Everything goes through the
real SDK against :class:`FakeLLMServer`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import llmops_nb
from tests.capture.drivers import DRIVERS, AnthropicMessages, OpenAIChat
from tests.fakes import FakeLLMServer


@pytest.fixture(autouse=True)
def autologged() -> Iterator[None]:
    assert {"openai", "anthropic"} <= set(llmops_nb.autolog())
    yield
    llmops_nb.autolog(disable=True)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


@pytest.fixture
def sdk(provider: str, server: FakeLLMServer) -> OpenAIChat | AnthropicMessages:
    return DRIVERS[provider](server)


@pytest.fixture
def client(sdk: OpenAIChat | AnthropicMessages) -> Iterator[Any]:
    with sdk.client() as made:
        yield made
