"""Routing strategies, content-policy fallbacks, alert budgets, key budgets and embeddings through the gateway.

Same real parts as tests/test_gateway.py: the official SDKs in front, local fake providers behind.
"""

from __future__ import annotations

import asyncio
import json

import anthropic
import openai
import pytest

import llmops_nb
from tests.fakes import FakeLLMServer, Reply, Usage
from tests.test_gateway import ask, attrs, build, deployment, gateway_spans


@pytest.fixture(scope="module")
def upstreams():
    with FakeLLMServer() as a, FakeLLMServer() as b:
        yield a, b


@pytest.fixture(autouse=True)
def _keys(monkeypatch, upstreams):
    monkeypatch.setenv("FAKE_OPENAI_KEY", "sk-proj-routingtestkey000000000000")
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", "sk-ant-api03-routingtestkey0000000000")
    for server in upstreams:
        server.reset()


def test_cost_based_routing_sends_to_the_cheapest(upstreams):
    a, b = upstreams
    with build([deployment("chat", a, model_info={"input_cost_per_token": 1e-5, "output_cost_per_token": 1e-5}),
                deployment("chat", b, model_info={"input_cost_per_token": 1e-7, "output_cost_per_token": 1e-7})],
               router_settings={"routing_strategy": "cost-based-routing"}) as gw:
        client = gw.client()
        for _ in range(5):
            ask(client)
        assert len(a.requests) == 0 and len(b.requests) == 5


def test_latency_based_routing_prefers_the_faster_once_both_are_measured(upstreams):
    a, b = upstreams
    with build([deployment("chat", a), deployment("chat", b)],
               router_settings={"routing_strategy": "latency-based-routing"}) as gw:
        a.enqueue(*[Reply(text="slow", delay=0.2) for _ in range(10)])
        b.enqueue(*[Reply(text="fast") for _ in range(10)])
        client = gw.client()
        for _ in range(2):  # untried deployments go first: both get measured
            ask(client)
        assert len(a.requests) == 1 and len(b.requests) == 1
        for _ in range(4):
            assert ask(client).choices[0].message.content == "fast"


def test_simple_shuffle_follows_weights(upstreams):
    a, b = upstreams
    with build([deployment("chat", a, weight=9), deployment("chat", b, weight=1)]) as gw:
        client = gw.client()
        for _ in range(60):
            ask(client)
    assert len(a.requests) > len(b.requests) * 2  # 9:1 expected; a loose bound that cannot flake


def test_least_busy_spreads_concurrent_requests(upstreams):
    a, b = upstreams
    with build([deployment("chat", a), deployment("chat", b)],
               router_settings={"routing_strategy": "least-busy"}) as gw:
        a.enqueue(*[Reply(text="x", delay=0.2) for _ in range(10)])

        async def main():
            client = gw.async_client()
            await asyncio.gather(*(client.chat.completions.create(
                model="chat", messages=[{"role": "user", "content": "x"}]) for _ in range(10)))
            await client.close()
            await gw.aclose()
        asyncio.run(main())
    assert len(a.requests) == 5 and len(b.requests) == 5


def test_a_content_policy_refusal_goes_to_its_fallback(upstreams):
    a, b = upstreams
    with build([deployment("strict", a), deployment("lenient", b)],
               router_settings={"content_policy_fallbacks": [{"strict": ["lenient"]}]}) as gw:
        a.enqueue(Reply.error(400, "Your request was rejected by our safety system", code="content_policy_violation"))
        b.enqueue("answered")
        assert ask(gw.client(), model="strict").choices[0].message.content == "answered"
    root = gateway_spans().query("name == 'gateway chat'").iloc[0]
    assert attrs(root)["gateway.fallback_from"] == ["strict"]


def test_an_alert_budget_lets_requests_through_and_calls_back_once(upstreams):
    a, _ = upstreams
    alerts = []
    config = [deployment("chat", a, model_info={"input_cost_per_token": 0, "output_cost_per_token": 1e-3})]
    from llmops_nb import gateway

    gw = gateway.load({"model_list": config,
                       "budgets": [{"scope": "team", "id": "ml", "max_budget": 0.02, "budget_duration": "weekly",
                                    "action": "alert"}]}, on_budget_alert=alerts.append)
    with gw:
        a.enqueue(*[Reply(text="ok", usage=Usage(input_tokens=1, output_tokens=10)) for _ in range(5)])
        client = gw.client(team="ml")
        for _ in range(5):
            ask(client, max_tokens=10)
        (state,) = gw.status()["budgets"]
    assert len(alerts) == 1 and alerts[0]["scope_id"] == "ml"
    assert state["spent"] == pytest.approx(0.05)


def test_a_keys_own_budget_rejects_with_its_window_and_reset(upstreams):
    a, _ = upstreams
    config = [deployment("chat", a, model_info={"input_cost_per_token": 0, "output_cost_per_token": 1e-3})]
    with build(config) as gw:
        plaintext, _ = gw.keys.create("intern", max_budget=0.025, budget_duration="monthly")
        a.enqueue(*[Reply(text="ok", usage=Usage(input_tokens=1, output_tokens=10)) for _ in range(3)])
        client = gw.client(key=plaintext)
        ask(client, max_tokens=10)
        ask(client, max_tokens=10)
        with pytest.raises(openai.RateLimitError) as refused:
            ask(client, max_tokens=10)
        body = refused.value.body
        assert body["code"] == "budget_exceeded" and body["scope"] == "key" and body["window"] == "monthly"
        assert body["resets_at"].endswith("Z") and "resets" in body["message"]
        assert len(a.requests) == 2


def test_without_max_tokens_a_budgeted_request_is_capped_at_what_was_reserved(upstreams):
    a, _ = upstreams
    config = [deployment("chat", a, model_info={"input_cost_per_token": 0, "output_cost_per_token": 1e-6,
                                                 "max_output_tokens": 300})]
    with build(config, budgets=[{"scope": "user", "id": "*", "max_budget": 1, "budget_duration": "daily"}]) as gw:
        ask(gw.client(user="u"))
        assert a.requests[-1].body["max_tokens"] == 300
        ask(gw.client())  # no budget applies to the owner without a user: the request is sent as written
        assert "max_tokens" not in a.requests[-1].body


def test_embeddings_through_the_gateway(upstreams):
    a, _ = upstreams
    with build([deployment("embed", a, model="text-embedding-3-small")]) as gw:
        result = gw.client().embeddings.create(model="embed", input=["one", "two"])
        assert len(result.data) == 2
        assert a.requests[-1].path == "/v1/embeddings"
    root = gateway_spans().query("name == 'gateway embeddings'").iloc[0]
    assert attrs(root)["gateway.status"] == "ok"


def test_anthropic_streams_from_an_openai_deployment_and_back(upstreams):
    a, b = upstreams
    with build([deployment("gpt", a), deployment("claude", b, provider="anthropic", model="claude-3-5-haiku")]) \
            as gw:
        a.enqueue(Reply(text="hello from gpt", usage=Usage(input_tokens=3, output_tokens=3)))
        with gw.anthropic_client().messages.stream(model="gpt", max_tokens=20,
                                                   messages=[{"role": "user", "content": "hi"}]) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text == "hello from gpt" and final.usage.output_tokens == 3
        b.enqueue(Reply(text="hello from claude", usage=Usage(input_tokens=3, output_tokens=3)))
        chunks = list(ask(gw.client(), model="claude", stream=True, max_tokens=20))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello from claude"


def test_a_request_nests_under_the_cells_span_and_a_refusal_is_recorded(upstreams):
    a, _ = upstreams
    with build([deployment("chat", a)]) as gw, llmops_nb.span("my step") as step:
        ask(gw.client())
        with pytest.raises(openai.NotFoundError):
            ask(gw.client(), model="nope")
    spans = gateway_spans(step.trace_id)
    roots = spans[spans.name == "gateway chat"]
    assert set(roots.parent_span_id) == {step.span_id}
    refused = roots[roots.status == "ERROR"].iloc[0]
    assert json.loads(refused.attributes)["gateway.reject_reason"] == "model_not_found"


def test_anthropic_sdk_errors_keep_their_shape(upstreams):
    a, _ = upstreams
    with build([deployment("chat", a)]) as gw, pytest.raises(anthropic.NotFoundError) as caught:
        gw.anthropic_client().messages.create(model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["error"]["type"] == "not_found_error"


def test_retry_after_is_waited_before_the_same_deployment_is_tried_again(upstreams):
    a, _ = upstreams
    with build([deployment("chat", a)], router_settings={"num_retries": 2}) as gw:
        a.enqueue(Reply.error(429, "slow down", retry_after=0.3), "after the wait")
        assert ask(gw.client()).choices[0].message.content == "after the wait"
    llmops_nb.flush()
    events = json.loads(llmops_nb.sql("SELECT events FROM spans WHERE name = 'gateway chat'").events[0])
    waits = [e for e in events if e["name"] == "gateway.wait"]
    assert waits and waits[0]["attributes"]["seconds"] >= 0.3


def test_a_deployment_at_its_rpm_sends_the_rest_to_another(upstreams):
    a, b = upstreams
    with build([deployment("chat", a, rpm=2, order=1), deployment("chat", b, order=2)]) as gw:
        client = gw.client()
        for _ in range(5):
            ask(client)
    assert len(a.requests) == 2 and len(b.requests) == 3


def test_the_sync_client_works_where_a_loop_is_running_and_from_many_threads(upstreams):
    from concurrent.futures import ThreadPoolExecutor

    a, _ = upstreams
    with build([deployment("chat", a)]) as gw:
        client = gw.client()

        async def in_a_cell():  # a notebook cell runs while the kernel's loop is "running"
            other = build([deployment("chat", a)])
            ask(other.client())
            other.close()  # closes its connections and loops from inside the cell too
            return ask(client).choices[0].message.content, [c for c in ask(client, stream=True)]
        text, chunks = asyncio.run(in_a_cell())
        assert text and chunks
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: ask(client).choices[0].message.content, range(16)))
        assert len(answers) == 16 and len(a.requests) == 19


def test_the_pii_policy_blocks_a_request_before_any_provider_sees_it_and_masks_the_trace(upstreams):
    a, _ = upstreams
    llmops_nb.configure(pii={"default": "mask", "CREDIT_CARD": "block"})
    try:
        with build([deployment("chat", a)]) as gw:
            with pytest.raises(openai.PermissionDeniedError) as blocked:
                ask(gw.client(), text="charge 4111 1111 1111 1111 please")
            assert blocked.value.body["code"] == "pii_blocked" and "4111" not in str(blocked.value)
            assert a.requests == []
            ask(gw.client(), text="mail ann@example.com")
            assert a.requests[-1].body["messages"][0]["content"] == "mail ann@example.com"  # sent unchanged
        llmops_nb.flush()
        stored = llmops_nb.sql("SELECT inputs FROM spans WHERE name = 'gateway chat' ORDER BY start_ns").inputs
        assert "4111" not in stored[0] and "ann@example.com" not in stored[1] and "[EMAIL_1]" in stored[1]
    finally:
        llmops_nb.configure(pii=None)


def test_a_stream_closed_before_it_is_read_settles_its_budget_and_ends_its_trace(upstreams):
    a, _ = upstreams
    config = [deployment("chat", a, model_info={"input_cost_per_token": 0, "output_cost_per_token": 1e-3})]
    with build(config, budgets=[{"scope": "user", "id": "*", "max_budget": 1, "budget_duration": "daily"}]) as gw:
        a.enqueue(Reply(text="never read", usage=Usage(input_tokens=1, output_tokens=2)),
                  Reply(text="never read", usage=Usage(input_tokens=1, output_tokens=2)))
        ask(gw.client(user="u"), stream=True, max_tokens=10).close()  # sync: closed unread

        async def main():
            client = gw.async_client(user="u")
            stream = await client.chat.completions.create(model="chat", stream=True, max_tokens=10,
                                                          messages=[{"role": "user", "content": "x"}])
            await stream.close()
            await client.close()
            await gw.aclose()
        asyncio.run(main())
        (state,) = gw.status()["budgets"]
        assert state["reserved"] == 0  # nothing left held: an unread stream counts what was reserved
        assert state["spent"] == pytest.approx(0.02)
    spans = gateway_spans()
    assert len(spans[spans.name == "gateway chat"]) == 2 and len(spans[spans.kind == "CHAT_MODEL"]) == 2
