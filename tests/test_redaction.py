"""No key is ever stored or shown: every path a secret can take, planted and grepped for.

The adversarial run that found the leaks grepped the DuckDB file, its WAL and a saved notebook
for the keys it used; these tests do the same, through the real openai SDK against the fake
server, a real kernel (nbclient) and the real store.
"""

from __future__ import annotations

import json
import logging
import os
import secrets

import openai
import pytest

import llmops_nb
from llmops_nb import _redact
from llmops_nb._redact import REDACTED, is_secret_name, redact_mapping, redact_strings, redact_text
from llmops_nb.store._connection import get_store
from tests.fakes import FakeLLMServer, Reply
from tests.support import errors, outputs_text, run_cells


def key(prefix: str = "") -> str:
    """A fresh credential-looking value, unique per call, so a grep hit can only come from this test."""
    return prefix + secrets.token_hex(16)


def store_bytes(db) -> bytes:
    llmops_nb.flush()
    get_store().close()  # checkpoint: what is in the WAL goes to the file, then read both
    data = db.read_bytes()
    wal = db.with_name(db.name + ".wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


# -- the rules -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    f"openai.OpenAI(api_key='{key('sk-proj-')}')",
    f"ANTHROPIC_API_KEY={key('sk-ant-api03-')}",
    f"aws AKIA{secrets.token_hex(8).upper()} here",
    f"token ghp_{secrets.token_hex(18)}",
    f"github_pat_{secrets.token_hex(20)}",
    f"AIza{secrets.token_hex(17)}x",
    f"xoxb-{secrets.token_hex(8)}-{secrets.token_hex(8)}",
    f"hf_{secrets.token_hex(16)}",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    f"Authorization: Bearer {key()}",
    f"postgresql://app:{key()}@db.internal:5432/prod",
    f"https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024&api-key={key()}",
    f"https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig={key()}&se=2026",
    f"https://app.example.com/callback?code={key()}&state=xyz",
    f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={key()}==;EndpointSuffix=core.windows.net",
    f'{{"client_secret": "{key()}", "grant_type": "client_credentials"}}',
    f'headers = {{"Ocp-Apim-Subscription-Key": "{key()}"}}',
    f'curl -H "X-Api-Key: {key()}" https://api.example.com',
    f"password = '{key()}'",
    f"-----BEGIN RSA PRIVATE KEY-----\nMIIE{key()}\n-----END RSA PRIVATE KEY-----",
])
def test_credentials_are_redacted_by_shape_and_by_name(text):
    out = redact_text(text)
    assert REDACTED in out
    for token in text.replace("'", " ").replace('"', " ").replace("=", " ").replace("&", " ").split():
        if len(token) >= 24 and any(c.isdigit() for c in token) and token.isalnum():
            assert token not in out, (text, out)


@pytest.mark.parametrize("text", [
    '{"max_tokens": 100, "input_tokens": 5, "temperature": 0.2}',
    "task-abcdefghijklmnopqrstuvwxyz0123 is a job id",
    "The bearer of this letter has a basic understanding of tokens.",
    '{"code": 200, "status": "ok"}',  # "code" is a secret only in URL query strings
    "order 4111-1111-1111-1111, ISBN 978-3-16-148410-0, uuid 123e4567-e89b-12d3-a456-426614174000",
    "monkey = 'banana'; keywords = ['a', 'b']",
    "https://example.com/search?q=tokens&page=2",
])
def test_ordinary_text_is_left_alone(text):
    assert redact_text(text) == text


def test_secret_names():
    for name in ("api_key", "apiKey", "X-Api-Key", "Ocp-Apim-Subscription-Key", "X-Auth", "X-Custom-Key",
                 "Authorization", "Proxy-Authorization", "Cookie", "client_secret", "access_token",
                 "X-Amz-Security-Token", "X-Amz-Signature", "PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "password"):
        assert is_secret_name(name), name
    for name in ("max_tokens", "input_tokens", "token_type", "keywords", "monkey", "LLMOPS_NB_AUTHOR", "XAUTHORITY",
                 "code", "sig"):
        assert not is_secret_name(name), name
    assert is_secret_name("code", query=True) and is_secret_name("sig", query=True)


def test_mappings_are_redacted_at_any_depth():
    body = {"model": "m", "extra": {"nested": [{"service_token": "t0ps3cret-value", "ok": 1}]},
            "auth": {"user": "u", "password": "p"}}
    assert redact_mapping(body) == {"model": "m", "extra": {"nested": [{"service_token": REDACTED, "ok": 1}]},
                                    "auth": REDACTED}
    assert redact_mapping({"sig": "x", "code": "y", "page": 2}, query=True) == {"sig": REDACTED, "code": REDACTED,
                                                                              "page": 2}


def test_credential_environment_values_are_redacted_wherever_they_appear(monkeypatch):
    value = key("plain-")  # no known shape: only its being an env credential gives it away
    monkeypatch.setenv("MY_SERVICE_TOKEN", value)
    assert redact_text(f"calling with {value} now") == f"calling with {REDACTED} now"
    monkeypatch.setenv("SHORT_TOKEN", "1")  # too short to redact without wrecking text
    assert redact_text("page 1 of 1") == "page 1 of 1"


def test_batch_redaction_flags_only_what_needs_it():
    secret = key("sk-")
    values = ["hello", None, 5, f"x {secret}", "", "plain"] * 1000
    out = redact_strings(values)
    assert out.count(f"x {REDACTED}") == 1000 and out.count("hello") == 1000
    assert out[1] is None and out[2] == 5
    assert redact_strings(["lone \udcff surrogate sk-" + "a" * 20]) == [f"lone \ufffd surrogate {REDACTED}"]


def test_the_fast_engine_is_re2():
    assert _redact._fast_re is not _redact.re, "google-re2 is a dependency: the redaction scan needs it"


# -- every path into the store --------------------------------------------------------------------

def test_span_fields_inputs_outputs_attributes_events_errors_are_redacted(store_path, monkeypatch):
    planted = [key("sk-"), key("sk-"), key("sk-"), key("sk-"), key("sk-"), key("ghp_"), key()]
    monkeypatch.setenv("MY_API_TOKEN", planted[6])

    @llmops_nb.trace
    def call(api_key, prompt):
        raise RuntimeError(f"request to https://x.example.com/v1?api-key={planted[1]} failed")

    with llmops_nb.span(f"step {planted[2]}") as s:
        s.set_attribute("headers", {"Authorization": f"Bearer {planted[3]}"})
        s.add_event("retry", {"url": f"https://h/?key={planted[4]}"})
        s.set_outputs({"echo": planted[6]})
        with pytest.raises(RuntimeError):
            call(planted[0], "hi")
        s.set_status("ERROR", f"token {planted[5]} rejected")
    data = store_bytes(store_path)
    for value in planted:
        assert value.encode() not in data, value
    rows = llmops_nb.sql("SELECT name, inputs, outputs, attributes, events, error, status_message FROM spans")
    text = rows.to_json()
    assert text.count(REDACTED) >= 7


def test_sdk_headers_query_body_and_error_urls_never_reach_the_store(store_path):
    planted = {name: key() for name in ("header1", "header2", "header3", "query1", "query2", "query3", "body",
                                        "client", "url")}
    with FakeLLMServer() as server:
        server.enqueue(Reply(text="ok"),
                       Reply(status=401, error_message=f"Access denied for {server.openai_base_url}/chat/completions"
                                                       f"?api-key={planted['url']}"))
        llmops_nb.autolog()
        try:
            client = openai.OpenAI(api_key=f"sk-{planted['client']}", base_url=server.openai_base_url, max_retries=0)
            with llmops_nb.span("agent"):
                client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}],
                    extra_headers={"Ocp-Apim-Subscription-Key": planted["header1"], "X-Auth": planted["header2"],
                                   "X-Custom-Key": planted["header3"]},
                    extra_query={"subscription-key": planted["query1"], "code": planted["query2"],
                                 "sig": planted["query3"]},
                    extra_body={"metadata": {"nested": {"service_secret": planted["body"]}}})
                with pytest.raises(openai.AuthenticationError):
                    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "again"}])
        finally:
            llmops_nb.autolog(disable=True)
    data = store_bytes(store_path)
    for name, value in planted.items():
        assert value.encode() not in data, name
    headers = llmops_nb.sql("SELECT inputs FROM spans WHERE kind = 'CHAT_MODEL' AND status = 'OK'").inputs[0]
    assert '"X-Custom-Key": "[redacted]"' in headers and '"code": "[redacted]"' in headers


def test_logged_failures_are_redacted(caplog):
    from llmops_nb._safety import log_once

    secret = key("sk-")
    with caplog.at_level(logging.WARNING, logger="llmops_nb"):
        log_once(f"test.redacted.{secret}", RuntimeError(f"GET https://h/?api_key={secret}"), f"failed with {secret}")
    assert secret not in caplog.text and REDACTED in caplog.text


def test_status_last_error_is_redacted(store_path):
    from llmops_nb.store._recorder import recorder

    secret = key("sk-")
    recorder._note_failure(RuntimeError(f"boom {secret}"))
    assert secret not in llmops_nb.status()["last_write_error"]


@pytest.mark.slow
def test_a_traced_cell_with_a_key_leaves_no_trace_of_it_in_the_store_or_the_saved_notebook(tmp_path):
    db = tmp_path / "nb.duckdb"
    api_key, header_key, env_key = key("sk-proj-"), key(), key()
    with FakeLLMServer() as server:
        server.enqueue(Reply(text="Paris"))
        cells = [
            "%%llm_trace answer\n"
            "import openai\n"
            f"client = openai.OpenAI(api_key={api_key!r}, base_url={server.openai_base_url!r})\n"
            "reply = client.chat.completions.create(model='gpt-4.1-mini', "
            "messages=[{'role': 'user', 'content': 'Capital of France?'}], "
            f"extra_headers={{'X-Custom-Key': {header_key!r}}})\n"
            "import os\n"
            "print(reply.choices[0].message.content, os.environ['PARTNER_API_TOKEN'][:2])",
            "answer",
        ]
        executed = run_cells(cells, db, env={"PARTNER_API_TOKEN": env_key})
    assert not errors(executed[0]), outputs_text(executed[0])
    assert "Paris" in outputs_text(executed[0])
    # What we put in the saved notebook: every output (the text/html snapshot included); the
    # cell's source is the user's own text, which they wrote and see.
    notebook = json.dumps([cell.outputs for cell in executed])
    assert "text/html" in notebook
    con_bytes = db.read_bytes() + (db.with_name(db.name + ".wal").read_bytes()
                                   if db.with_name(db.name + ".wal").exists() else b"")
    for value in (api_key, header_key):
        assert value not in notebook, "a key reached the notebook's outputs"
        assert value.encode() not in con_bytes, "a key reached the store"
    assert REDACTED in notebook  # the cell source is shown, with the key replaced
    assert os.environ.get("PARTNER_API_TOKEN") is None


def test_prompts_feedback_and_evaluation_data_are_redacted_too(store_path):
    from llmops_nb import prompts
    from llmops_nb.evals import evaluate, scorers

    planted = [key("sk-"), key("sk-"), key("sk-"), key("sk-")]
    with pytest.warns(UserWarning, match="looks like a credential"):
        version = prompts.register("qa", "Answer: {{question}}", model_config={"model": "m", "api_key": planted[0]})
    assert version.model_config == {"model": "m", "api_key": REDACTED}
    assert prompts.load("qa").format(question="x") == "Answer: x"  # the template itself was untouched

    @llmops_nb.trace
    def answer(question):
        return f"use {planted[1]}"

    frame = evaluate([{"inputs": {"question": f"key {planted[2]}"}}], predict_fn=answer, scorers=[scorers.length()],
                     progress=False)
    llmops_nb.log_feedback(frame.trace_id[0], False, name="helpful", comment=f"it leaked {planted[3]}")
    data = store_bytes(store_path)
    for value in planted:
        assert value.encode() not in data
