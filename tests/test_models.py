"""The model access layer, through the real SDKs against the fake server: URIs, retries, limits, timeouts."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import llmops_nb
from llmops_nb.models import Limiter, ModelCallError, RetryPolicy, forget_models, get_model, parse_model_uri
from llmops_nb.models._retry import retry_after_seconds
from tests.fakes import FakeLLMServer, Reply, Usage


class CountingServer(FakeLLMServer):
    """The fake server, also counting requests in flight: from arrival until the response starts, as a
    provider sees them (a client can send its next request before our handler thread has returned)."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.peak = 0
        self._count_lock = threading.Lock()
        self._open: set[int] = set()

    def _handle(self, handler):
        with self._count_lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self._open.add(id(handler))
        try:
            super()._handle(handler)
        finally:
            self._answered(handler)

    def _answered(self, handler):
        with self._count_lock:
            if id(handler) in self._open:
                self._open.discard(id(handler))
                self.in_flight -= 1

    def _send_json(self, handler, rendered):
        self._answered(handler)
        super()._send_json(handler, rendered)

    def _send_events(self, handler, rendered, reply):
        self._answered(handler)
        super()._send_events(handler, rendered, reply)


@pytest.fixture
def server():
    with CountingServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def untraced_afterwards():
    yield
    forget_models()
    llmops_nb.autolog(disable=True)


def openai_uri(server, **options) -> str:
    extra = "".join(f"&{k}={v}" for k, v in options.items())
    return f"openai:/gpt-4o-mini?base_url={server.openai_base_url}{extra}"


# -- URIs ----------------------------------------------------------------------------------

def test_uri_forms():
    spec = parse_model_uri("openai:/llama3?base_url=http://127.0.0.1:8080/v1&timeout=30&max_retries=2")
    assert (spec.provider, spec.name, spec.base_url, spec.timeout, spec.max_retries) == (
        "openai", "llama3", "http://127.0.0.1:8080/v1", 30.0, 2)
    assert parse_model_uri("anthropic:/claude-haiku-4-5").sdk == "anthropic"
    assert parse_model_uri("ollama:/llama3").base_url == "http://127.0.0.1:11434/v1"
    assert parse_model_uri("local:/smollm2").sdk == "openai"
    assert parse_model_uri("openai:gpt-4.1-mini").name == "gpt-4.1-mini"
    assert parse_model_uri("openai:/x", timeout=5).timeout == 5.0
    assert parse_model_uri(spec.uri) == spec  # the canonical URI round-trips


@pytest.mark.parametrize(("uri", "message"), [
    ("gpt-4o", "provider:/model"),
    ("opneai:/gpt-4o", "Did you mean 'openai'"),
    ("openai:/", "names no model"),
    ("openai:/x?timout=3", "Did you mean 'timeout'"),
    ("openai:/x?api_key=sk-123", "Do not put an API key"),
    ("openai:/x?timeout=soon", "must be float"),
    ("openai:/x?max_concurrency=0", "use 1 or more"),
])
def test_bad_uris_say_how_to_fix_them(uri, message):
    with pytest.raises(ValueError, match=message):
        parse_model_uri(uri)


def test_get_model_shares_one_model_per_endpoint(server):
    assert get_model(openai_uri(server)) is get_model(openai_uri(server))
    assert get_model(openai_uri(server), max_concurrency=2) is not get_model(openai_uri(server))


def test_missing_key_variable_is_named(server, monkeypatch):
    monkeypatch.delenv("MY_KEY", raising=False)
    model = get_model(openai_uri(server, api_key_env="MY_KEY"))
    with pytest.raises(RuntimeError, match=r"\$MY_KEY"):
        model.chat("hi")


# -- calls ---------------------------------------------------------------------------------

def test_chat_sync_and_async(server):
    model = get_model(openai_uri(server))
    server.enqueue(Reply(text="Paris", usage=Usage(12, 1)))
    reply = model.chat("Capital of France?", system="Be brief.", max_tokens=5)
    assert (reply.text, reply.input_tokens, reply.output_tokens, reply.attempts) == ("Paris", 12, 1, 1)
    body = server.requests[-1].body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."} and body["max_tokens"] == 5

    async def main():
        try:
            return await asyncio.gather(*(model.achat(f"q{i}") for i in range(5)))
        finally:
            await model.aclose()

    assert sorted(r.text for r in asyncio.run(main())) == [f"echo: q{i}" for i in range(5)]


def test_anthropic_uri(server):
    model = get_model(f"anthropic:/claude-haiku-4-5?base_url={server.anthropic_base_url}&api_key_env=FAKE_KEY")
    import os

    os.environ["FAKE_KEY"] = "sk-ant-test"
    try:
        server.enqueue(Reply(text="Bonjour", usage=Usage(7, 2)))
        reply = model.chat([{"role": "system", "content": "French."}, {"role": "user", "content": "Hi"}])
    finally:
        del os.environ["FAKE_KEY"]
    assert (reply.text, reply.input_tokens, reply.finish_reason) == ("Bonjour", 7, "end_turn")
    body = server.requests[-1].body
    assert body["system"] == "French." and body["max_tokens"] == 1024
    assert [m["role"] for m in body["messages"]] == ["user"]


def test_each_attempt_is_a_chat_model_span_and_retries_are_events(server):
    model = get_model(openai_uri(server))
    server.enqueue(Reply.error(500), "ok")
    with llmops_nb.span("app") as root:
        assert model.chat("hi").text == "ok"
    llmops_nb.flush()
    spans = llmops_nb.spans(root.trace_id)
    chats = spans[spans.kind == "CHAT_MODEL"]
    assert list(chats.status) == ["ERROR", "OK"]
    events = spans[spans.name == "app"].events.iloc[0]
    assert [e["name"] for e in events] == ["llmops_nb.model.retry"]
    assert events[0]["attributes"]["reason"] == "HTTP 500"


# -- retries -------------------------------------------------------------------------------

def test_retry_after_is_honoured_and_sdk_retries_are_off(server):
    model = get_model(openai_uri(server))
    server.enqueue(Reply.error(429, retry_after=0.3), "done")
    started = time.monotonic()
    reply = model.chat("hi")
    elapsed = time.monotonic() - started
    assert reply.text == "done" and reply.attempts == 2
    assert elapsed >= 0.3  # never sooner than the server asked
    assert len(server.requests) == 2  # ours were the only retries
    assert model.stats.rate_limited == 1 and model.stats.retries == 1


def test_429_cools_the_whole_model_down(server):
    model = get_model(openai_uri(server))
    server.enqueue(Reply.error(429, retry_after=0.5))
    first = threading.Thread(target=model.chat, args=("first",))
    first.start()
    time.sleep(0.15)  # the 429 has arrived: the model is cooling down
    started = time.monotonic()
    model.chat("second")  # not told to wait itself, yet waits for the cooldown
    assert time.monotonic() - started >= 0.25
    first.join()


def test_5xx_storm_backs_off_then_gives_up_with_a_fix(server):
    model = get_model(openai_uri(server, max_retries=2))
    model.retry = RetryPolicy(max_retries=2, base_delay=0.01)
    server.enqueue(*[Reply.error(503)] * 3)
    with pytest.raises(ModelCallError, match=r"HTTP 503 after 3 attempts.*allow more retries") as info:
        model.chat("hi")
    assert info.value.status_code == 503 and info.value.attempts == 3
    assert isinstance(info.value.__cause__, Exception)  # the SDK's own error
    assert len(server.requests) == 3


def test_client_errors_are_not_retried(server):
    model = get_model(openai_uri(server))
    server.enqueue(Reply.error(401))
    with pytest.raises(ModelCallError, match="API key was rejected") as info:
        model.chat("hi")
    assert info.value.attempts == 1 and len(server.requests) == 1


def test_retry_after_longer_than_max_wait_fails_at_once(server):
    model = get_model(openai_uri(server, max_wait=1))
    server.enqueue(Reply.error(429, retry_after=30))
    started = time.monotonic()
    with pytest.raises(ModelCallError, match="longer than max_wait=1"):
        model.chat("hi")
    assert time.monotonic() - started < 5


def test_timeouts_are_retried_then_reported(server):
    model = get_model(openai_uri(server, timeout=0.2, max_retries=1))
    model.retry = RetryPolicy(max_retries=1, base_delay=0.01)
    server.enqueue(Reply(text="late", delay=1.0), "in time")
    assert model.chat("hi").text == "in time"
    server.enqueue(Reply(text="late", delay=1.0), Reply(text="late", delay=1.0))
    with pytest.raises(ModelCallError, match=r"timed out after 2 attempts.*\?timeout="):
        model.chat("hi")


def test_async_retries(server):
    model = get_model(openai_uri(server))
    server.enqueue(Reply.error(429, retry_after=0.05), Reply.error(502), "fine")
    model.retry = RetryPolicy(max_retries=5, base_delay=0.01)
    async def main():
        try:
            return await model.achat("hi")
        finally:
            await model.aclose()

    assert asyncio.run(main()).attempts == 3


def test_retry_after_header_forms():
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert 0 <= retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) < 1
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds(None) is None


def test_backoff_grows_with_jitter():
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    delays = [[policy.delay(attempt) for _ in range(50)] for attempt in range(5)]
    assert all(0.5 <= d <= 1.0 for d in delays[0]) and all(4.0 <= d <= 8.0 for d in delays[4])
    assert len(set(delays[2])) > 1  # jittered


# -- concurrency ---------------------------------------------------------------------------

def test_max_concurrency_holds_across_threads_and_event_loops(server):
    model = get_model(openai_uri(server, max_concurrency=3))
    server.enqueue(*[Reply(text="x", delay=0.05)] * 24)

    async def burst():
        try:
            await asyncio.gather(*(model.achat("a") for _ in range(8)))
        finally:
            await model.aclose()

    threads = [threading.Thread(target=model.chat, args=("t",)) for _ in range(8)]
    loops = [threading.Thread(target=asyncio.run, args=(burst(),)) for _ in range(2)]
    for thread in threads + loops:
        thread.start()
    for thread in threads + loops:
        thread.join()
    assert server.peak == 3 and model.stats.peak_in_flight == 3
    assert model.stats.calls == 24


def test_limiter_is_fifo_and_survives_cancelled_waiters():
    limiter = Limiter(1)

    async def main():
        await limiter.acquire_async()
        waiter = asyncio.ensure_future(limiter.acquire_async())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        limiter.release()
        assert limiter.in_flight == 0
        async with limiter:
            assert limiter.in_flight == 1

    asyncio.run(main())
    assert limiter.in_flight == 0
    order = []
    limiter.acquire()

    def take(n):
        with limiter:
            order.append(n)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)  # queue them in order
    limiter.release()
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3] and limiter.peak == 1


def test_stream_is_refused(server):
    with pytest.raises(ValueError, match="without stream=True"):
        get_model(openai_uri(server)).chat("hi", stream=True)


# -- connections to servers on this machine ------------------------------------------

def test_a_dropped_keep_alive_connection_costs_a_retry_not_a_failure(server):
    # httpx drops a pooled connection the server closed while idle; one closed in the instant
    # before reuse fails that attempt ("disconnected without a response"), which the retry layer takes.
    import socket
    import socketserver

    body = (b'{"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [{"index": 0, '
            b'"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}')

    class OneShot(socketserver.BaseRequestHandler):
        def handle(self):  # answer one request, keep-alive promised, then hang up
            data = b""
            while b"\r\n\r\n" not in data:
                data += self.request.recv(65536)
            head, rest = data.split(b"\r\n\r\n", 1)
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            while len(rest) < length:
                rest += self.request.recv(65536)
            self.request.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                                 % len(body) + body)
            self.request.shutdown(socket.SHUT_RDWR)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), OneShot) as hangs_up:
        threading.Thread(target=hangs_up.serve_forever, daemon=True).start()
        model = get_model(f"openai:/m?base_url=http://127.0.0.1:{hangs_up.server_address[1]}/v1&max_retries=2")
        model.retry = RetryPolicy(max_retries=2, base_delay=0.01)
        assert [model.chat("a").text, model.chat("b").text, model.chat("c").text] == ["ok", "ok", "ok"]
        assert model.stats.failures == 0
        hangs_up.shutdown()


def test_connection_refused_is_retried_then_reported():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = get_model(f"openai:/m?base_url=http://127.0.0.1:{port}/v1&max_retries=1")
    model.retry = RetryPolicy(max_retries=1, base_delay=0.01)
    with pytest.raises(ModelCallError, match=r"after 2 attempts.*check that it is up") as info:
        model.chat("hi")
    assert info.value.status_code is None
