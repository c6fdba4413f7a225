"""The gateway's HTTP to upstreams (llmops_nb/gateway/_upstream.py), against the fake provider server."""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from llmops_nb.gateway._sse import EventSplitter, fields
from llmops_nb.gateway._types import Deployment, UpstreamFailure
from llmops_nb.gateway._upstream import Upstream
from tests.fakes import FakeLLMServer, Reply, ToolCall, Usage

# no provider shape, so only the gateway's own scrubbing can keep it out of messages
KEY = "gwtest-Q7x2-unshaped-provider-credential-5531"
CHAT = {"model": "chat", "messages": [{"role": "user", "content": "Say hi"}]}
MESSAGES = {"model": "chat", "max_tokens": 64, "messages": [{"role": "user", "content": "Say hi"}]}


@pytest.fixture
def server():
    with FakeLLMServer() as fake:
        yield fake


def deployment(server: FakeLLMServer, protocol: str = "openai", **changes: Any) -> Deployment:
    fields_: dict[str, Any] = {
        "model_name": "chat", "id": f"{protocol}-dep", "provider": protocol, "model": f"{protocol}-upstream-model",
        "protocol": protocol, "timeout": 5.0,
        "api_base": server.openai_base_url if protocol == "openai" else server.anthropic_base_url}
    fields_.update(changes)
    return Deployment(**fields_)


def run(test: Callable[[Upstream], Awaitable[Any]], resolve: Callable[[Deployment], str | None] = lambda d: KEY) -> Any:
    """Run ``test(upstream)`` on a fresh loop; the client is closed before the loop ends."""
    async def main() -> Any:
        upstream = Upstream(resolve)
        try:
            return await test(upstream)
        finally:
            await upstream.aclose()
    return asyncio.run(main())


def failure_of(server: FakeLLMServer, reply: Reply, protocol: str = "openai", **changes: Any) -> UpstreamFailure:
    server.enqueue(reply)
    d = deployment(server, protocol, **changes)
    body = CHAT if protocol == "openai" else MESSAGES

    async def go(upstream: Upstream) -> UpstreamFailure:
        with pytest.raises(UpstreamFailure) as caught:
            await upstream.send(d, "chat" if protocol == "openai" else "messages", body)
        return caught.value
    return run(go)


# -- requests --------------------------------------------------------------------------------------

def test_openai_chat_goes_to_chat_completions_with_the_deployments_model_and_key(server):
    server.enqueue(Reply(text="hi", usage=Usage(input_tokens=7, output_tokens=2)))
    body, usage = run(lambda up: up.send(deployment(server), "chat", CHAT))
    sent = server.requests[-1]
    assert (sent.path, sent.body["model"], sent.headers["authorization"]) == (
        "/v1/chat/completions", "openai-upstream-model", f"Bearer {KEY}")
    assert sent.body["messages"] == CHAT["messages"] and CHAT["model"] == "chat"  # the caller's body untouched
    assert body["choices"][0]["message"]["content"] == "hi"
    assert (usage.input_tokens, usage.output_tokens, usage.model) == (7, 2, "openai-upstream-model")


def test_anthropic_messages_go_to_v1_messages_with_its_headers_and_cache_tokens_count_as_input(server):
    server.enqueue(Reply(text="hi", usage=Usage(input_tokens=5, output_tokens=3, cache_read_tokens=10,
                                                cache_creation_tokens=2)))
    body, usage = run(lambda up: up.send(deployment(server, "anthropic"), "messages", MESSAGES))
    sent = server.requests[-1]
    assert sent.path == "/v1/messages" and sent.body["model"] == "anthropic-upstream-model"
    assert sent.headers["x-api-key"] == KEY and sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert body["content"][0]["text"] == "hi"
    assert (usage.input_tokens, usage.output_tokens) == (17, 3)


def test_api_base_variants_reach_the_same_routes(server):
    server.enqueue("a", "b")
    run(lambda up: up.send(deployment(server, api_base=server.openai_base_url + "/"), "chat", CHAT))
    run(lambda up: up.send(deployment(server, "anthropic", api_base=server.base_url + "/v1"), "messages", MESSAGES))
    assert [r.path for r in server.requests] == ["/v1/chat/completions", "/v1/messages"]


def test_embeddings_use_the_openai_route_and_have_no_output_tokens(server):
    body, usage = run(lambda up: up.send(deployment(server), "embeddings", {"model": "e", "input": ["a b", "c"]}))
    assert server.requests[-1].path == "/v1/embeddings" and len(body["data"]) == 2
    assert usage.input_tokens == 3 and usage.output_tokens == 0


def test_an_anthropic_deployment_refuses_embeddings_without_a_request(server):
    async def go(up):
        with pytest.raises(UpstreamFailure, match="does not serve embeddings") as caught:
            await up.send(deployment(server, "anthropic"), "embeddings", {"input": "x"})
        return caught.value
    assert run(go).kind == "client" and server.requests == []


def test_a_hosted_provider_without_key_fails_as_auth_before_any_request(server):
    async def go(up):
        with pytest.raises(UpstreamFailure, match="has no API key") as caught:
            await up.send(deployment(server, api_base=None), "chat", CHAT)
        return caught.value
    assert run(go, resolve=lambda d: None).kind == "auth"


def test_a_self_hosted_server_is_called_without_key(server):
    server.enqueue("ok")
    run(lambda up: up.send(deployment(server), "chat", CHAT), resolve=lambda d: None)
    assert "authorization" not in server.requests[-1].headers


def test_a_rotated_key_is_used_at_once(server):
    keys = iter(["key-one", "key-two"])
    server.enqueue("a", "b")

    async def go(up):
        d = deployment(server)
        await up.send(d, "chat", CHAT)
        await up.send(d, "chat", CHAT)
    run(go, resolve=lambda d: next(keys))
    assert [r.headers["authorization"] for r in server.requests] == ["Bearer key-one", "Bearer key-two"]


def test_the_local_provider_uses_the_offline_servers_url_and_key(server, monkeypatch):
    import llmops_nb.local_model as local_model

    class Stand:
        base_url, api_key = server.openai_base_url, "local-server-key"
    monkeypatch.setattr(local_model, "local_server", lambda: Stand)
    server.enqueue("small talk")
    d = Deployment("chat", "local-dep", "local", "smollm2", "openai", timeout=5.0)
    run(lambda up: up.send(d, "chat", CHAT), resolve=lambda d: None)
    assert server.requests[-1].headers["authorization"] == "Bearer local-server-key"
    assert server.requests[-1].body["model"] == "smollm2"


def test_concurrent_requests_share_one_client_per_loop(server):
    async def go(up):
        answers = await asyncio.gather(*(up.send(deployment(server), "chat", CHAT) for _ in range(20)))
        assert len(up._clients) == 1
        return answers
    assert len(run(go)) == 20


# -- failures --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("reply", "protocol", "kind"), [
    (Reply.error(500), "openai", "server"),
    (Reply.error(502), "openai", "server"),
    (Reply.error(503), "anthropic", "server"),
    (Reply.error(504), "openai", "server"),
    (Reply.error(529, "Overloaded"), "anthropic", "server"),
    (Reply.error(401), "openai", "auth"),
    (Reply.error(403), "anthropic", "auth"),
    (Reply.error(400, "This model's maximum context length is 8192 tokens.", code="context_length_exceeded"),
     "openai", "context_window"),
    (Reply.error(400, "prompt is too long: 210000 tokens > 200000 maximum"), "anthropic", "context_window"),
    (Reply.error(400, "The response was filtered.", code="content_filter"), "openai", "content_policy"),
    (Reply.error(400, "Your request was rejected.", code="content_policy_violation"), "openai", "content_policy"),
    (Reply.error(400, "Output blocked by content filtering policy"), "anthropic", "content_policy"),
    (Reply.error(400, "temperature: must be at most 2"), "openai", "client"),
    (Reply.error(404), "openai", "client"),
    (Reply.error(413), "anthropic", "client"),
])
def test_failures_are_classified(server, reply, protocol, kind):
    failure = failure_of(server, reply, protocol)
    assert (failure.kind, failure.status) == (kind, reply.status)
    assert failure.retryable is (kind in ("server", "rate_limit"))
    assert isinstance(failure.body, dict) and failure.message


def test_rate_limits_carry_retry_after_ms_seconds_or_an_http_date(server):
    assert failure_of(server, Reply.error(429, retry_after=2.5)).retry_after == 2.5  # retry-after-ms wins
    seconds = failure_of(server, Reply.error(429, headers={"retry-after": "7"}), "anthropic")
    assert (seconds.kind, seconds.retry_after) == ("rate_limit", 7.0)
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    dated = failure_of(server, Reply.error(429, headers={"retry-after": date}))
    assert 25 < dated.retry_after <= 30
    assert failure_of(server, Reply.error(429)).retry_after is None


def test_a_slow_upstream_times_out(server):
    failure = failure_of(server, Reply(text="late", delay=0.5), timeout=0.1)
    assert failure.kind == "timeout" and "0.1 s" in failure.message


def test_a_refused_connection_is_a_connection_failure():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    d = Deployment("chat", "gone", "openai", "m", "openai", api_base=f"http://127.0.0.1:{port}/v1", timeout=2)

    async def go(up):
        with pytest.raises(UpstreamFailure) as caught:
            await up.send(d, "chat", CHAT)
        return caught.value
    failure = run(go)
    assert failure.kind == "connection" and "'gone'" in failure.message


def test_a_wrong_api_base_is_a_client_failure(server):
    d = deployment(server, api_base=server.base_url + "/not-an-api")  # the fake answers 404 there

    async def go(up):
        with pytest.raises(UpstreamFailure) as caught:
            await up.send(d, "chat", CHAT)
        return caught.value
    assert run(go).kind == "client"


def test_an_answer_that_is_not_json_is_a_server_failure():
    class Html(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", "13")
            self.end_headers()
            self.wfile.write(b"<html></html>")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    d = Deployment("chat", "html", "openai", "m", "openai", api_base=f"http://127.0.0.1:{httpd.server_address[1]}")

    async def go(up):
        with pytest.raises(UpstreamFailure, match="without a JSON object") as caught:
            await up.send(d, "chat", CHAT)
        return caught.value
    try:
        assert run(go).kind == "server"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_the_key_never_appears_in_a_failure(server, protocol, status):
    echoed = f"Incorrect API key provided: {KEY}. You can find your API key at https://example.test."
    failure = failure_of(server, Reply.error(status, echoed), protocol)
    assert KEY not in failure.message and KEY not in json.dumps(failure.body) and KEY not in str(failure)
    assert "[redacted]" in failure.message


# -- streams ---------------------------------------------------------------------------------------

async def _drain(up: Upstream, d: Deployment, route: str, body: dict[str, Any]) -> tuple[list[bytes], Any]:
    stream = await up.open_stream(d, route, body)
    events = [event async for event in stream.events()]
    return events, stream


def _without_usage_chunk(raw: bytes) -> bytes:
    kept = [e + b"\n\n" for e in raw.split(b"\n\n") if e and b'"choices": []' not in e]
    return b"".join(kept)


def test_an_openai_stream_passes_through_byte_for_byte_without_the_usage_chunk_it_added(server):
    server.enqueue(Reply(text="one two three", tool_calls=[ToolCall("f", {"x": 1})],
                         usage=Usage(input_tokens=4, output_tokens=9)))
    events, stream = run(lambda up: _drain(up, deployment(server), "chat", {**CHAT, "stream": True}))
    assert server.requests[-1].body["stream_options"] == {"include_usage": True}
    raw = server.sent[-1]
    assert b'"choices": []' in raw  # the upstream sent usage ...
    assert b"".join(events) == _without_usage_chunk(raw)  # ... the client does not see it
    assert all(e.endswith(b"\n\n") for e in events) and events[-1] == b"data: [DONE]\n\n"
    assert (stream.usage.input_tokens, stream.usage.output_tokens) == (4, 9)
    assert stream.error is None


def test_an_openai_stream_keeps_the_usage_chunk_the_client_asked_for(server):
    server.enqueue(Reply(text="one two", usage=Usage(input_tokens=3, output_tokens=2)))
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    events, stream = run(lambda up: _drain(up, deployment(server), "chat", body))
    assert b"".join(events) == server.sent[-1]
    assert (stream.usage.input_tokens, stream.usage.output_tokens) == (3, 2)


def test_an_anthropic_stream_passes_through_byte_for_byte_with_its_usage(server):
    server.enqueue(Reply(text="one two", tool_calls=[ToolCall("f", {"x": 1})],
                         usage=Usage(input_tokens=6, output_tokens=11, cache_read_tokens=4)))
    events, stream = run(lambda up: _drain(up, deployment(server, "anthropic"), "messages",
                                           {**MESSAGES, "stream": True}))
    assert "stream_options" not in server.requests[-1].body
    assert b"".join(events) == server.sent[-1]
    assert [fields(e)[0] for e in events][:2] == ["message_start", "content_block_start"]
    assert (stream.usage.input_tokens, stream.usage.output_tokens) == (10, 11)
    assert stream.usage.model == "anthropic-upstream-model"


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_failed_stream_raises_before_returning(server, protocol):
    server.enqueue(Reply.error(429, f"slow down {KEY}", retry_after=1))
    body = {**(CHAT if protocol == "openai" else MESSAGES), "stream": True}

    async def go(up):
        with pytest.raises(UpstreamFailure) as caught:
            await up.open_stream(deployment(server, protocol), "chat", body)
        return caught.value
    failure = run(go)
    assert (failure.kind, failure.retry_after) == ("rate_limit", 1.0) and KEY not in failure.message


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_dropped_stream_raises_a_connection_failure_after_the_events_it_got(server, protocol):
    server.enqueue(Reply(text="a b c d e f", fail_after=3, failure="disconnect"))
    body = {**(CHAT if protocol == "openai" else MESSAGES), "stream": True}

    async def go(up):
        stream = await up.open_stream(deployment(server, protocol), "chat", body)
        got = []
        with pytest.raises(UpstreamFailure) as caught:
            async for event in stream.events():
                got.append(event)
        return got, caught.value
    got, failure = run(go)
    assert failure.kind == "connection" and b"".join(got) == server.sent[-1] and len(got) == 3


def test_an_error_event_mid_stream_is_passed_on_and_recorded(server):
    server.enqueue(Reply(text="a b c", fail_after=2, error_message="Overloaded"))
    events, stream = run(lambda up: _drain(up, deployment(server, "anthropic"), "messages",
                                           {**MESSAGES, "stream": True}))
    assert b"".join(events) == server.sent[-1] and fields(events[-1])[0] == "error"
    assert stream.error is not None and stream.error.kind == "server" and stream.error.message == "Overloaded"


def test_a_stream_closed_early_releases_its_connection(server):
    server.enqueue(Reply(text="a b c d e f g h"))

    async def go(up):
        stream = await up.open_stream(deployment(server), "chat", {**CHAT, "stream": True})
        async for _event in stream.events():
            break
        await stream.aclose()
        server.enqueue("again")  # the pool still serves
        return await up.send(deployment(server), "chat", CHAT)
    body, _ = run(go)
    assert body["choices"][0]["message"]["content"] == "again"


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_events_are_cut_at_blank_lines_whatever_the_chunks_and_line_endings(newline):
    events = [b"event: a" + newline + b"data: {\"x\": 1}" + newline + newline,
              b"data: two" + newline + b"data: lines" + newline + newline, b": comment" + newline + newline,
              b"data: [DONE]" + newline + newline]
    raw = b"".join(events)
    for size in (1, 2, 3, 5, 7, len(raw)):
        splitter = EventSplitter()
        got = [e for i in range(0, len(raw), size) for e in splitter.feed(raw[i:i + size])]
        rest = splitter.flush()  # a final lone \r is held back: it could have been half of \r\n
        assert got + ([rest] if rest else []) == events and (rest == b"") is (newline != b"\r")
    assert fields(events[0]) == ("a", b'{"x": 1}') and fields(events[1]) == (None, b"two\nlines")


# -- clients ----------------------------------------------------------------------------------------

def test_close_closes_each_loops_client_on_its_own_loop(server):
    upstream = Upstream(lambda d: KEY)
    server.enqueue("a", "b")
    idle = asyncio.new_event_loop()
    idle.run_until_complete(upstream.send(deployment(server), "chat", CHAT))
    busy = asyncio.new_event_loop()
    thread = threading.Thread(target=busy.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(upstream.send(deployment(server), "chat", CHAT), busy).result(10)
    clients = list(upstream._clients.values())
    assert len(clients) == 2
    upstream.close()
    assert all(client.is_closed for client in clients) and not upstream._clients
    busy.call_soon_threadsafe(busy.stop)
    thread.join(10)
    busy.close()
    idle.close()


def test_send_overhead_against_a_bare_client_is_measurable(server):
    """Not a timing assertion: the same answer both ways, so the comparison in the report is fair."""
    server.enqueue("x", "x")

    async def go(up):
        ours, _ = await up.send(deployment(server), "chat", CHAT)
        async with httpx.AsyncClient() as bare:
            theirs = (await bare.post(f"{server.openai_base_url}/chat/completions", json=CHAT)).json()
        return ours, theirs
    ours, theirs = run(go)
    assert ours["choices"] == theirs["choices"]
