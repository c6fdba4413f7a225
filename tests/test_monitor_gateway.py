"""Judges routed through the AI gateway: the monitor's judge calls are the gateway's requests, billed to a
virtual key with a budget; when the budget runs out the remaining traces get the refusal as their error
and the monitor carries on."""

from __future__ import annotations

import json

import pytest

import llmops_nb
from llmops_nb import gateway
from llmops_nb.evals import make_judge
from llmops_nb.models import forget_models
from llmops_nb.monitor._monitor import Monitor
from tests.fakes import FakeLLMServer, Reply, Usage

pytest.importorskip("uvicorn")


def judge_reply(body):
    return Reply(text=json.dumps({"result": "yes", "rationale": "fine"}), usage=Usage(input_tokens=5, output_tokens=10))


@pytest.mark.file_store
def test_judges_through_the_gateway_stop_at_the_keys_budget(monkeypatch, store_path):
    monkeypatch.setenv("UPSTREAM_KEY", "sk-upstream-0000000000000000000000")
    monkeypatch.setenv("GATEWAY_MASTER", "sk-master-000000000000000000000000")
    with FakeLLMServer(responder=judge_reply) as upstream:
        config = {
            "model_list": [{"model_name": "judge", "litellm_params": {
                "model": "openai/judge-model", "api_base": upstream.openai_base_url,
                "api_key": "os.environ/UPSTREAM_KEY"},
                "model_info": {"input_cost_per_token": 0, "output_cost_per_token": 1e-3, "max_output_tokens": 10}}],
            "general_settings": {"master_key": "os.environ/GATEWAY_MASTER"},
        }
        with gateway.load(config) as gw:
            plaintext, key = gw.keys.create("monitor", models=["judge"], max_budget=0.05)  # 5 judge calls of $0.01
            monkeypatch.setenv("MONITOR_GATEWAY_KEY", plaintext)
            server = gw.serve()
            try:
                @llmops_nb.trace(name="support")
                def app(question):
                    return f"sure: {question}"

                for i in range(8):
                    app(str(i))
                judge = make_judge("polite", "Is this polite? {{ outputs }}", max_tokens=10,
                                   model=f"openai:/judge?base_url={server.url}/v1&api_key_env=MONITOR_GATEWAY_KEY"
                                         "&max_retries=3")  # retries allowed: the gateway says not to
                mon = Monitor(concurrency=1, retries=0)
                mon.add(judge, backfill=True)
                report = mon.run_once()
                mon.close()
            finally:
                server.stop()
                forget_models()
    done = report.scorers[0]
    assert (done.scored, done.errors) == (5, 3), report
    errors = mon.errors()
    assert errors.error.str.contains("budget").all() and errors.error.str.contains("said not to retry").all()
    llmops_nb.flush()
    billed = llmops_nb.sql("SELECT count(*) AS n FROM spans WHERE name = 'gateway chat' "
                           "AND json_extract_string(attributes, '$.\"gateway.key_id\"') = ?", [key.key_id])
    assert billed.n[0] == 8  # every judge call went through the gateway, on the monitor's key
    llmops_nb.flush()
    from llmops_nb.store._connection import close_all

    close_all()
    assert plaintext.encode() not in store_path.read_bytes()  # the key's plaintext is never stored
