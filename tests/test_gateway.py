"""The gateway end to end in the kernel: the real openai/anthropic SDKs as clients, fake providers upstream.

Routing, retries, cooldowns, fallbacks (general, context-window, content-policy), protocol
translation, streaming, virtual keys, rate limits, budgets under concurrency, and the trace each
request leaves in a real DuckDB store. The upstreams are local HTTP servers speaking the providers'
wire protocols (tests/fakes); nothing in the SDKs or in llmops_nb is patched.
"""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

import llmops_nb
from llmops_nb import gateway
from tests.fakes import FakeLLMServer, Reply, Usage

PROVIDER_KEY = "sk-proj-FAKEPROVIDERKEY0123456789abcdefXYZ"
ANTHROPIC_KEY = "sk-ant-api03-FAKEANTHROPICKEY0123456789abcdef"


@pytest.fixture(scope="module")
def upstreams():
    with FakeLLMServer() as a, FakeLLMServer() as b, FakeLLMServer() as c:
        yield a, b, c


@pytest.fixture(autouse=True)
def _keys(monkeypatch, upstreams):
    monkeypatch.setenv("FAKE_OPENAI_KEY", PROVIDER_KEY)
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", ANTHROPIC_KEY)
    for server in upstreams:
        server.reset()


def deployment(name, server, *, model="gpt-4o-mini", provider="openai", **extra):
    params = {"model": f"{provider}/{model}",
              "api_base": server.openai_base_url if provider == "openai" else server.anthropic_base_url,
              "api_key": "os.environ/FAKE_OPENAI_KEY" if provider == "openai" else "os.environ/FAKE_ANTHROPIC_KEY"}
    info = extra.pop("model_info", None)
    params.update(extra)
    entry = {"model_name": name, "litellm_params": params}
    if info:
        entry["model_info"] = info
    return entry


def build(model_list, **sections):
    config = {"model_list": model_list,
              "router_settings": {"num_retries": 2, "retry_after": 0.01, "cooldown_time": 30,
                                  **sections.pop("router_settings", {})}}
    config.update(sections)
    return gateway.load(config)


def ask(client, model="chat", text="hi", **params):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], **params)


def gateway_spans(trace_id=None):
    llmops_nb.flush()
    frame = llmops_nb.sql("SELECT trace_id, span_id, parent_span_id, name, kind, status, attributes, cost_usd "
                          "FROM spans ORDER BY start_ns")
    if trace_id is not None:
        frame = frame[frame.trace_id == trace_id]
    return frame


def attrs(row):
    return json.loads(row.attributes or "{}")


def test_a_request_answers_like_the_provider_and_is_one_trace_with_its_attempt(upstreams):
    a, _, _ = upstreams
    with build([deployment("chat", a, model_info={"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6})]) \
            as gw:
        a.enqueue(Reply(text="Paris", usage=Usage(input_tokens=12, output_tokens=3)))
        reply = ask(gw.client(user="alice"), text="Capital of France?")
        assert reply.choices[0].message.content == "Paris"
        sent = a.requests[-1]
        assert sent.body["model"] == "gpt-4o-mini"
        assert sent.headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    spans = gateway_spans()
    root = spans[spans.name == "gateway chat"].iloc[0]
    child = spans[spans.parent_span_id == root.span_id].iloc[0]
    assert child.kind == "CHAT_MODEL" and child["name"] == "chat#0"
    assert attrs(root)["gateway.deployment"] == "chat#0"
    assert attrs(root)["user.id"] == "alice"
    assert attrs(root)["gateway.cost_usd"] == pytest.approx(12e-6 + 6e-6)
    assert child.cost_usd == pytest.approx(18e-6)
    assert spans.cost_usd.fillna(0).sum() == pytest.approx(18e-6)  # counted once, on the attempt


def test_autolog_does_not_count_the_gateway_client_twice(upstreams):
    a, _, _ = upstreams
    llmops_nb.autolog()
    try:
        with build([deployment("chat", a)]) as gw:
            with llmops_nb.span("cell") as cell:
                ask(gw.client())
    finally:
        llmops_nb.autolog(disable=True)
    spans = gateway_spans(cell.trace_id)
    assert sorted(spans.kind) == ["CHAIN", "CHAT_MODEL", "UNKNOWN"]  # cell → gateway chat → attempt


def test_a_5xx_is_retried_on_another_deployment_then_the_same_after_backoff(upstreams):
    a, b, _ = upstreams
    with build([deployment("chat", a), deployment("chat", b)],
               router_settings={"routing_strategy": "least-busy"}) as gw:
        a.enqueue(Reply.error(500, "boom"))
        b.enqueue(Reply.error(502, "bad gateway"))
        a.enqueue(Reply(text="third time"))
        b.enqueue(Reply(text="third time"))
        reply = ask(gw.client())
        assert reply.choices[0].message.content == "third time"
        assert len(a.requests) + len(b.requests) == 3
    spans = gateway_spans()
    root = spans[spans.name == "gateway chat"].iloc[0]
    assert attrs(root)["gateway.attempts"] == 3
    assert list(spans[spans.kind == "CHAT_MODEL"].status) == ["ERROR", "ERROR", "OK"]


def test_a_429_with_retry_after_cools_the_deployment_down_and_others_take_over(upstreams):
    a, b, _ = upstreams
    with build([deployment("chat", a, order=1), deployment("chat", b, order=2)]) as gw:
        a.enqueue(Reply.error(429, "slow down", retry_after=30))
        b.enqueue("from b", "from b again")
        client = gw.client()
        assert ask(client).choices[0].message.content == "from b"
        assert ask(client).choices[0].message.content == "from b again"
        assert len(a.requests) == 1  # cooling down for 30 s: not asked again
        health = {d["deployment"]: d for d in gw.status()["deployments"]}
        assert health["chat#0"]["cooling_down_s"] > 25
    spans = gateway_spans()
    first = spans[spans.kind == "CHAT_MODEL"].iloc[0]
    assert attrs(first)["gateway.cooldown"] is True


def test_allowed_fails_then_cooldown(upstreams):
    a, b, _ = upstreams
    with build([deployment("chat", a, order=1), deployment("chat", b, order=2)],
               router_settings={"allowed_fails": 1, "num_retries": 1}) as gw:
        client = gw.client()
        a.enqueue(Reply.error(500), Reply.error(500))
        b.enqueue("b1", "b2", "b3")
        assert ask(client).choices[0].message.content == "b1"   # a fails once (allowed), b answers
        assert ask(client).choices[0].message.content == "b2"   # a fails twice: cooled down
        assert ask(client).choices[0].message.content == "b3"   # a is not asked
        assert len(a.requests) == 2


def test_fallbacks_after_retries_are_exhausted(upstreams):
    a, b, _ = upstreams
    with build([deployment("chat", a), deployment("backup", b)],
               router_settings={"num_retries": 1, "fallbacks": [{"chat": ["backup"]}]}) as gw:
        a.enqueue(Reply.error(503), Reply.error(503))
        b.enqueue("from backup")
        assert ask(gw.client()).choices[0].message.content == "from backup"
        assert len(a.requests) == 2
    root = gateway_spans().query("name == 'gateway chat'").iloc[0]
    assert attrs(root)["gateway.fallback_from"] == ["chat"]
    assert attrs(root)["gateway.deployment"] == "backup#1"


def test_a_prompt_too_long_for_the_model_goes_to_its_context_window_fallback_before_sending(upstreams):
    a, b, _ = upstreams
    with build([deployment("chat", a, model_info={"max_input_tokens": 50}), deployment("long", b)],
               router_settings={"context_window_fallbacks": [{"chat": ["long"]}]}) as gw:
        b.enqueue("long answer")
        a.enqueue("short answer")
        client = gw.client()
        assert ask(client, text="word " * 400).choices[0].message.content == "long answer"
        assert a.requests == []
        assert ask(client, text="short").choices[0].message.content == "short answer"


def test_the_providers_context_window_refusal_also_falls_back(upstreams):
    a, b, _ = upstreams
    with build([deployment("chat", a), deployment("long", b)],
               router_settings={"context_window_fallbacks": [{"chat": ["long"]}]}) as gw:
        a.enqueue(Reply.error(400, "This model's maximum context length is 8192 tokens",
                              error_type="invalid_request_error"))
        b.enqueue("fits here")
        assert ask(gw.client()).choices[0].message.content == "fits here"


def test_a_bad_request_is_final_and_keeps_the_providers_message(upstreams):
    a, b, _ = upstreams
    with build([deployment("chat", a), deployment("backup", b)],
               router_settings={"fallbacks": [{"chat": ["backup"]}]}) as gw:
        a.enqueue(Reply.error(400, "temperature must be at most 2"))
        with pytest.raises(openai.BadRequestError, match="temperature must be at most 2"):
            ask(gw.client(), temperature=5)
        assert b.requests == [] and len(a.requests) == 1


def test_when_everything_fails_the_error_lists_the_attempts(upstreams):
    a, _, _ = upstreams
    with build([deployment("chat", a)], router_settings={"num_retries": 1}) as gw:
        a.enqueue(Reply.error(500, "down"), Reply.error(500, "still down"))
        with pytest.raises(openai.InternalServerError) as caught:
            ask(gw.client())
        assert caught.value.status_code == 503
        assert "chat#0" in str(caught.value) and "still down" in str(caught.value)


def test_unknown_model_names_the_ones_there_are(upstreams):
    a, _, _ = upstreams
    with build([deployment("chat", a)]) as gw, pytest.raises(openai.NotFoundError, match="Did you mean 'chat'"):
        ask(gw.client(), model="chta")


def test_streams_pass_through_unchanged_and_in_order(upstreams):
    a, _, _ = upstreams
    reply = Reply(text="one two three four", usage=Usage(input_tokens=4, output_tokens=4))
    direct = openai.OpenAI(api_key="x", base_url=a.openai_base_url, max_retries=0)
    a.enqueue(reply)
    with direct:
        expected = [c.model_dump(exclude={"id", "created"})
                    for c in direct.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                            messages=[{"role": "user", "content": "x"}])]
    with build([deployment("chat", a, model_info={"input_cost_per_token": 0, "output_cost_per_token": 1e-3})]) as gw:
        a.enqueue(reply)
        chunks = [c.model_dump(exclude={"id", "created"}) for c in ask(gw.client(), stream=True)]
        assert chunks == expected
        assert "stream_options" in a.requests[-1].body  # asked upstream for usage, stripped for the client

        async def main():
            a.enqueue(reply)
            client = gw.async_client()
            stream = await client.chat.completions.create(model="chat", stream=True,
                                                          messages=[{"role": "user", "content": "x"}])
            got = [c.model_dump(exclude={"id", "created"}) async for c in stream]
            await client.close()
            await gw.aclose()
            return got
        assert asyncio.run(main()) == expected
    roots = gateway_spans().query("name == 'gateway chat'")
    assert [attrs(r)["gateway.cost_usd"] for r in roots.itertuples()] == [pytest.approx(4e-3)] * 2


def test_any_client_reaches_any_provider(upstreams):
    a, b, _ = upstreams
    with build([deployment("claude", b, provider="anthropic", model="claude-3-5-haiku"),
                deployment("gpt", a)]) as gw:
        b.enqueue(Reply(text="from claude", usage=Usage(input_tokens=5, output_tokens=2)))
        reply = ask(gw.client(), model="claude", max_tokens=50)
        assert reply.choices[0].message.content == "from claude"
        assert b.requests[-1].path == "/v1/messages" and b.requests[-1].headers["x-api-key"] == ANTHROPIC_KEY
        a.enqueue("from gpt")
        message = gw.anthropic_client().messages.create(model="gpt", max_tokens=50,
                                                        messages=[{"role": "user", "content": "hi"}])
        assert message.content[0].text == "from gpt"
        assert a.requests[-1].path == "/v1/chat/completions"


def test_virtual_keys_scope_models_and_limit_requests(upstreams):
    a, _, _ = upstreams
    with build([deployment("chat", a), deployment("other", a)]) as gw:
        plaintext, key = gw.keys.create("notebook", models=["chat"], rpm=2)
        client = gw.client(key=plaintext)
        ask(client)
        with pytest.raises(openai.PermissionDeniedError, match="may not use model 'other'"):
            ask(client, model="other")
        ask(client)
        with pytest.raises(openai.RateLimitError) as limited:
            ask(client)
        assert limited.value.body["code"] == "rate_limit_exceeded"
        assert int(limited.value.response.headers["retry-after"]) >= 1
        with pytest.raises(openai.AuthenticationError):
            ask(gw.client(key="sk-llmops-not-a-key"))
    roots = gateway_spans().query("name == 'gateway chat'")
    assert {attrs(r)["gateway.key_id"] for r in roots.itertuples()} >= {key.key_id}


def test_a_budget_is_never_overshot_under_200_concurrent_requests(upstreams):
    a, _, _ = upstreams
    price, tokens, budget = 1e-3, 10, 0.5  # each request reserves and costs exactly $0.01: 50 fit
    config = [deployment("chat", a, model_info={"input_cost_per_token": 0, "output_cost_per_token": price})]
    with build(config, budgets=[{"scope": "user", "id": "*", "max_budget": budget, "budget_duration": "daily"}]) \
            as gw:
        a.enqueue(*[Reply(text="ok", usage=Usage(input_tokens=3, output_tokens=tokens), delay=0.05)
                    for _ in range(200)])

        async def one(client):
            try:
                await client.chat.completions.create(model="chat", max_tokens=tokens, user="bob",
                                                     messages=[{"role": "user", "content": "x"}])
                return "ok"
            except openai.RateLimitError as exc:
                assert exc.body["code"] == "budget_exceeded"
                return "rejected"

        async def main():
            client = gw.async_client()
            results = await asyncio.gather(*(one(client) for _ in range(200)))
            await client.close()
            await gw.aclose()
            return results

        results = asyncio.run(main())
        assert results.count("ok") == 50 and results.count("rejected") == 150
        (state,) = gw.ledger.snapshot()
        assert state["spent"] == pytest.approx(0.5) and state["reserved"] == 0
    spent = sum(attrs(r)["gateway.cost_usd"] for r in gateway_spans().query("name == 'gateway chat'").itertuples()
                if "gateway.cost_usd" in attrs(r))
    assert spent <= budget + 1e-9


@pytest.mark.file_store
def test_provider_keys_never_reach_the_store_or_errors(upstreams, store_path):
    a, _, _ = upstreams
    with build([deployment("chat", a)], router_settings={"num_retries": 0}) as gw:
        a.enqueue(Reply.error(401, f"Incorrect API key provided: {PROVIDER_KEY}"))
        with pytest.raises(openai.APIStatusError) as caught:
            ask(gw.client())
        assert PROVIDER_KEY not in str(caught.value) and PROVIDER_KEY[-12:] not in str(caught.value)
        with pytest.raises(openai.InternalServerError) as cooling:  # a 401 cools the deployment down
            ask(gw.client())
        assert cooling.value.status_code == 503 and int(cooling.value.response.headers["retry-after"]) > 5
    with build([deployment("chat", a)]) as gw:
        a.enqueue("fine")
        ask(gw.client())
    llmops_nb.flush()
    data = store_path.read_bytes() + b"".join(p.read_bytes() for p in store_path.parent.glob("*.wal"))
    assert PROVIDER_KEY.encode() not in data and ANTHROPIC_KEY.encode() not in data
