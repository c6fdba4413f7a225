"""The offline model's HTTP server, driven by the real openai SDK against the real SmolLM2 in its own process.

Model output differs between llama.cpp builds, so these check plumbing (text arrives, usage adds
up, the SSE stream ends cleanly, requests take turns on the model), never what the model says.
The supervisor (crashes, restarts, the parent's death) is tested in test_local_model_process.py.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import openai
import pytest

from llmops_nb.local_model import MODEL, LocalServer, start_local_server

if TYPE_CHECKING:
    from collections.abc import Iterator

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with start_local_server() as running:
        yield running


@pytest.fixture
def client(server: LocalServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0) as sdk:
        yield sdk


def assert_usage(usage: openai.types.CompletionUsage | None) -> None:
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def raw_request(server: LocalServer, method: str, path: str, headers: dict[str, str] | None = None,
                body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", int(server.base_url.split(":")[2].split("/")[0]), timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


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
def test_max_completion_tokens_caps_the_reply(client: openai.OpenAI) -> None:
    prompt = [{"role": "user", "content": "Write a long story about a dragon."}]
    reply = client.chat.completions.create(model="any-name", messages=prompt, max_completion_tokens=4)
    assert reply.usage.completion_tokens <= 4
    assert reply.choices[0].finish_reason == "length"


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
def test_concurrent_requests_take_turns_on_the_model(client: openai.OpenAI) -> None:
    # Streams show when tokens are generated: with the model shared by two requests at once their
    # token times would interleave; serialized, one stream's tokens all come before the other's.
    prompt = [{"role": "user", "content": "Count from 1 to 30, separated by commas."}]
    times: dict[int, list[float]] = {0: [], 1: []}
    go = threading.Barrier(2)

    def ask(which: int) -> None:
        go.wait()
        with client.chat.completions.create(model=MODEL, messages=prompt, max_tokens=24, temperature=0,
                                            stream=True) as stream:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    times[which].append(time.monotonic())

    threads = [threading.Thread(target=ask, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    first, second = sorted(times.values(), key=lambda t: t[0])
    assert len(first) >= 3 and len(second) >= 3, times
    assert first[-1] < second[0], "the two requests generated at the same time"


@pytest.mark.local_model
def test_abandoned_stream_frees_the_model(client: openai.OpenAI) -> None:
    with client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=200, stream=True) as stream:
        next(iter(stream))
    reply = client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=4)
    assert reply.choices[0].message.content


@pytest.mark.local_model
def test_models_and_errors(client: openai.OpenAI, server: LocalServer) -> None:
    assert [m.id for m in client.models.list()] == [MODEL]
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model=MODEL, messages=[])
    with pytest.raises(openai.BadRequestError, match="n=2"):
        client.chat.completions.create(model=MODEL, messages=QUESTION, n=2)
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError, match="Tool calling"):
        client.chat.completions.create(model=MODEL, messages=QUESTION, tools=[tool])
    key = {"Authorization": f"Bearer {server.api_key}"}
    status, body = raw_request(server, "POST", "/v1/chat/completions", key, b"{not json")
    assert status == 400
    assert "not JSON" in json.loads(body)["error"]["message"]
    assert raw_request(server, "GET", "/v1/nowhere", key)[0] == 404


ROUTES = [("GET", "/v1/models"), ("GET", f"/v1/models/{MODEL}"), ("POST", "/v1/chat/completions"),
          ("GET", "/v1/nowhere"), ("POST", "/nowhere"), ("PUT", "/v1/models"), ("DELETE", "/v1/models"),
          ("PATCH", "/v1/chat/completions"), ("OPTIONS", "/v1/models"), ("HEAD", "/v1/models"),
          ("GET", "/docs"), ("GET", "/openapi.json")]


@pytest.mark.local_model
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_the_key(server: LocalServer, method: str, path: str) -> None:
    body = json.dumps({"model": MODEL, "messages": QUESTION, "max_tokens": 2}).encode() if method == "POST" else None
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {server.api_key}"},
                    {"Authorization": f"Bearer {server.api_key}x"}, {"Authorization": server.api_key}):
        status, content = raw_request(server, method, path, headers, body)
        assert status == 401, (headers, status)
        if method != "HEAD":
            assert json.loads(content)["error"]["type"] == "authentication_error"
    status, _ = raw_request(server, method, path, {"Authorization": f"Bearer {server.api_key}"}, body)
    assert status != 401


@pytest.mark.local_model
def test_the_sdk_with_another_key_is_refused(server: LocalServer) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0) as sdk, \
            pytest.raises(openai.AuthenticationError, match="api_key"):
        sdk.models.list()


@pytest.mark.local_model
def test_the_kernel_side_never_loads_llama_cpp() -> None:
    # Only the server process may load the native library: a crash in it must not end this one.
    code = ("import sys, openai; from llmops_nb.local_model import start_local_server\n"
            "with start_local_server() as s:\n"
            "    c = openai.OpenAI(base_url=s.base_url, api_key=s.api_key)\n"
            "    c.chat.completions.create(model='m', messages=[{'role': 'user', 'content': 'Hi'}], max_tokens=2)\n"
            "sys.exit(3 if 'llama_cpp' in sys.modules else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "llama_cpp" not in sys.modules  # nor this test process, after this module's tests used the model
