"""PII: found precisely (validators, context, attackers' spellings), and handled by policy on every
path out — the store (file and WAL), evaluation data, the live OTLP forwarder, a saved notebook's
snapshot — with ``block`` stopping an SDK request before it is sent."""

from __future__ import annotations

import json
import secrets

import openai
import pytest

import llmops_nb
from llmops_nb.pii import PiiBlockedError, PiiPolicyError, Scrubber, find_pii, load_policy, redact_pii
from llmops_nb.store._connection import get_store
from tests.fakes import FakeLLMServer, Reply
from tests.otlp_sink import _Sink, decoded_spans
from tests.pii_corpus import corpus, score
from tests.support import errors, outputs_text, run_cells


def found(text: str, **kwargs) -> list[tuple[str, str]]:
    return [(m.entity, m.text) for m in find_pii(text, **kwargs)]


@pytest.fixture(autouse=True)
def _no_policy_after():
    yield
    llmops_nb.configure(pii=None)


# -- detection -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("mail Jane.Doe+news@mail.example.co.uk today", [("EMAIL", "Jane.Doe+news@mail.example.co.uk")]),
    ("call me at (415) 555-2671", [("PHONE", "(415) 555-2671")]),
    ("+44 20 7946 0958", [("PHONE", "+44 20 7946 0958")]),
    ("visa 4111 1111 1111 1111 exp 04/27", [("CREDIT_CARD", "4111 1111 1111 1111")]),
    ("amex 3782 822463 10005", [("CREDIT_CARD", "3782 822463 10005")]),
    ("IBAN GB82 WEST 1234 5698 7654 32", [("IBAN", "GB82 WEST 1234 5698 7654 32")]),
    ("ssn 078-05-1121", [("US_SSN", "078-05-1121")]),
    ("login from 203.0.113.9", [("IP_ADDRESS", "203.0.113.9")]),
    ("peer 2001:db8::8a2e:370:7334 up", [("IP_ADDRESS", "2001:db8::8a2e:370:7334")]),
    ("key sk-proj-" + "a1B2" * 10, [("API_KEY", "sk-proj-" + "a1B2" * 10)]),
    ("api token: Zk3pQ9xLm2Vb7Rt4Yw8Nc1Hs5Jd6Fg0K", [("API_KEY", "Zk3pQ9xLm2Vb7Rt4Yw8Nc1Hs5Jd6Fg0K")]),
])
def test_each_entity_is_found_with_its_exact_span(text, expected):
    assert found(text) == expected


@pytest.mark.parametrize("text", [
    "Order #4111111111111111 has shipped",          # Luhn-valid, but an order number by its context
    "4111111111111112",                             # fails Luhn
    "1234 5678 9012 3456",                          # no issuer has that prefix and it fails Luhn
    "ISBN 978-3-16-148410-0",
    "2026-01-15 10:30:00.123456",
    "trace 123e4567-e89b-12d3-a456-426614174000",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "upgrade to version 1.2.3.4",
    "v1.2.3.4",
    "std::vector<int>; a::b::c()",
    "ssn 666-12-3456",                              # area 666 is never issued
    "ssn 123-00-4567",                              # group 00 is never issued
    "GB82 WEST 1234 5698 7654 33",                  # mod-97 fails
    "user@localhost and pkg@1.2.3",
    "listening on localhost:8080, pid 4155552671",
])
def test_hard_negatives_are_not_pii(text):
    assert found(text) == []


@pytest.mark.parametrize(("text", "value"), [
    ("card 4111\u200b1111 1111 1111", "4111\u200b1111 1111 1111"),          # zero-width space
    ("card 4111\u00ad1111\u20601111 1111", "4111\u00ad1111\u20601111 1111"),  # soft hyphen, word joiner
    ("card ４１１１ １１１１ １１１１ １１１１", "４１１１ １１１１ １１１１ １１１１"),  # full-width digits
    ("card 4111 1111\n1111 1111", "4111 1111\n1111 1111"),                # a line break inside
    ('{"card": "4111 1111\\n1111 1111"}', "4111 1111\\n1111 1111"),       # ... as JSON text has it
    ("call +1 415\n555 2671", "+1 415\n555 2671"),
    ("mail ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
    ("b64 am9obkBleGFtcGxlLmNvbQ==", "am9obkBleGFtcGxlLmNvbQ=="),           # base64 of an e-mail address
])
def test_disguised_values_are_found_and_mapped_back_to_the_original_characters(text, value):
    matches = find_pii(text)
    assert [m.text for m in matches] == [value]
    assert text[matches[0].start:matches[0].end] == value


def test_context_words_raise_or_lower_the_score():
    assert found("4155552671") == []                        # ten bare digits: could be anything
    assert found("phone: 4155552671") == [("PHONE", "4155552671")]
    assert found("ticket 415-555-2671") == []               # the nearest context word wins
    assert found("ssn 123456780") == [("US_SSN", "123456780")]
    assert found("population 123456780") == []


def test_entities_and_aliases_limit_the_search_and_unknown_names_say_the_choices():
    text = "ann@example.com 4111 1111 1111 1111"
    assert found(text, entities=["EMAIL_ADDRESS"]) == [("EMAIL", "ann@example.com")]
    with pytest.raises(ValueError, match="use one of EMAIL, PHONE"):
        find_pii(text, entities=["PASSPORT"])


def test_bad_text_gets_findings_or_nothing_never_an_exception():
    assert found(b"card 4111 1111 1111 1111 \xff\xfe") == [("CREDIT_CARD", "4111 1111 1111 1111")]
    assert found("mail ann@example.com \ud800 end") == [("EMAIL", "ann@example.com")]
    assert find_pii("") == [] and find_pii("\x00" * 10) == []
    # 5 MB of digits, separators and @s (the worst case for the candidates): linear, finishes
    hostile = ("1 2-3.4 " * 40_000 + "a@b " * 40_000 + "9" * 100_000 + " 4111 1111 1111 1111 ") * 4
    assert ("CREDIT_CARD", "4111 1111 1111 1111") in found(hostile)


def test_precision_and_recall_on_the_labelled_corpus():
    """The floors under the table published in docs/pii-benchmarks.md (the same corpus)."""
    counts: dict[str, list[int]] = {}
    for example in corpus():
        score([(m.entity, m.start, m.end) for m in find_pii(example.text)], example.spans, counts)
    for entity, (tp, fp, fn) in counts.items():
        assert tp / (tp + fp) >= 0.95, (entity, tp, fp, fn)
        assert tp / (tp + fn) >= 0.95, (entity, tp, fp, fn)


# -- policies --------------------------------------------------------------------------------------

def test_masks_are_numbered_per_value_and_stable_within_a_trace():
    scrubber = Scrubber(load_policy("mask"))
    first = scrubber.scrub("from ann@example.com to bob@example.com", "inputs", trace=1)
    second = scrubber.scrub("reply to BOB@example.com, cc ann@example.com", "outputs", trace=1)
    other = scrubber.scrub("bob@example.com", "inputs", trace=2)
    assert first == "from [EMAIL_1] to [EMAIL_2]"
    assert second == "reply to [EMAIL_2], cc [EMAIL_1]"   # the same person, the same mask
    assert other == "[EMAIL_1]"                            # numbering is per trace


def test_hash_links_a_value_across_traces_and_needs_a_secret(monkeypatch):
    monkeypatch.delenv("LLMOPS_NB_PII_SECRET", raising=False)
    with pytest.raises(PiiPolicyError, match="LLMOPS_NB_PII_SECRET"):
        load_policy({"EMAIL": "hash"})
    monkeypatch.setenv("LLMOPS_NB_PII_SECRET", secrets.token_hex(16))
    scrubber = Scrubber(load_policy({"EMAIL": "hash", "default": "allow"}))
    a = scrubber.scrub("ann@example.com", trace=1)
    b = scrubber.scrub("Ann@Example.com", trace=2)
    assert a == b and a.startswith("[EMAIL:") and "ann" not in a
    monkeypatch.setenv("LLMOPS_NB_PII_SECRET", secrets.token_hex(16))
    assert Scrubber(load_policy({"EMAIL": "hash"})).scrub("ann@example.com") != a  # keyed: not guessable


def test_actions_per_entity_and_per_field():
    policy = load_policy({"default": "mask", "IP_ADDRESS": "allow", "PHONE": "drop",
                          "fields": {"outputs": {"EMAIL": "allow"}}})
    scrubber = Scrubber(policy)
    assert scrubber.scrub("ann@example.com from 10.1.2.3", "inputs") == "[EMAIL_1] from 10.1.2.3"
    assert scrubber.scrub("ann@example.com", "outputs") == "ann@example.com"
    assert scrubber.scrub("call (415) 555-2671 or ann@example.com", "inputs") == "[dropped: PHONE]"
    assert scrubber.scrub('"call (415) 555-2671"', "inputs", json_text=True) == '"[dropped: PHONE]"'
    assert redact_pii("IBAN DE89 3704 0044 0532 0130 00", "mask") == "IBAN [IBAN_1]"


def test_a_policy_file_with_a_mistake_names_its_line(tmp_path):
    good = tmp_path / "policy.yaml"
    good.write_text("default: mask\nEMAIL_ADDRESS: allow\nfields:\n  outputs:\n    PHONE: drop\n")
    policy = load_policy(good)
    assert policy.action("EMAIL") == "allow" and policy.action("PHONE", "outputs") == "drop"
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: mask\nEMAIL: allow\nfields:\n  outputs:\n    PHONE: shred\n")
    with pytest.raises(PiiPolicyError, match=r"bad.yaml \(line 5\).*'shred' is not an action; use one of allow"):
        load_policy(bad)
    bad.write_text("default: mask\nPASSPORT: mask\n")
    with pytest.raises(PiiPolicyError, match=r"line 2.*unknown PII entity 'PASSPORT'"):
        load_policy(bad)
    bad.write_text("default: [mask\n")
    with pytest.raises(PiiPolicyError, match=r"line 2\): not valid YAML"):
        load_policy(bad)
    with pytest.raises(PiiPolicyError, match="cannot read the PII policy file"):
        load_policy(tmp_path / "missing.yaml")
    with pytest.raises(PiiPolicyError):
        llmops_nb.configure(pii={"EMAIL": "obliterate"})   # refused before any span uses it
    assert llmops_nb._config.settings.pii is None


# -- every path out --------------------------------------------------------------------------------

def planted() -> dict[str, str]:
    """Fresh values per test, so a hit in a grep can only come from this test."""
    n = secrets.randbelow(10**6)
    return {
        "email": f"ann.lee{n}@example.com",
        "card": "4111 1111 1111 1111",
        "phone": f"+1 415 555 {n % 10000:04d}",
        "iban": "DE89 3704 0044 0532 0130 00",
        "ssn": f"ssn 219-{10 + n % 80}-{1000 + n % 9000}",  # the number's last part is unique enough
    }


def store_bytes(path) -> bytes:
    llmops_nb.flush()
    get_store().close()
    wal = path.with_name(path.name + ".wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


@pytest.mark.file_store
def test_the_store_never_holds_a_planted_value(store_path):
    values = planted()
    llmops_nb.configure(pii="mask")

    @llmops_nb.trace(session=f"session of {values['email']}")
    def support(question, customer):
        with llmops_nb.span("lookup") as s:
            s.set_attribute("customer.phone", values["phone"])
        return f"Refund to {values['iban']} for {customer}; card {values['card']} closed. {values['ssn']}"

    support(f"I am {values['email']}, card {values['card']}", customer=values["email"])
    data = store_bytes(store_path)
    rows = llmops_nb.sql("SELECT * FROM spans").to_json() + llmops_nb.sql("SELECT * FROM traces").to_json()
    for name, value in values.items():
        assert value.encode() not in data, f"the {name} reached the store"
        assert value not in rows, f"the {name} reached the store"
    spans = llmops_nb.spans(llmops_nb.traces().iloc[0]["trace_id"])
    root = spans[spans["name"] == "support"].iloc[0]
    assert root["inputs"] == {"question": "I am [EMAIL_1], card [CREDIT_CARD_1]", "customer": "[EMAIL_1]"}
    assert root["outputs"] == "Refund to [IBAN_1] for [EMAIL_1]; card [CREDIT_CARD_1] closed. ssn [US_SSN_1]"
    assert spans[spans["name"] == "lookup"].iloc[0]["attributes"]["customer.phone"] == "[PHONE_1]"
    assert llmops_nb.traces().iloc[0]["session"] == "session of [EMAIL_1]"


def test_a_streamed_card_split_across_chunks_is_masked_and_the_chunks_reach_the_user_unchanged():
    llmops_nb.autolog()
    llmops_nb.configure(pii="mask")
    chunks = ["Your card 4111 11", "11 1111 ", "1111 is on file."]
    with FakeLLMServer() as server:
        server.enqueue(Reply(chunks=chunks))
        client = openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url)
        stream = client.chat.completions.create(model="gpt-4.1-mini", stream=True,
                                                messages=[{"role": "user", "content": "which card?"}])
        received = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert received == chunks
    llmops_nb.flush()
    outputs = llmops_nb.spans(llmops_nb.traces().iloc[0]["trace_id"]).iloc[0]["outputs"]
    assert outputs["choices"][0]["message"]["content"] == "Your card [CREDIT_CARD_1] is on file."


def test_block_stops_an_sdk_request_before_it_is_sent():
    llmops_nb.autolog()
    llmops_nb.configure(pii={"default": "mask", "CREDIT_CARD": "block"})
    with FakeLLMServer() as server:
        server.enqueue(Reply(text="fine"))
        client = openai.OpenAI(api_key="sk-test", base_url=server.openai_base_url)
        with pytest.raises(PiiBlockedError, match="contains CREDIT_CARD, which the PII policy blocks") as caught:
            client.chat.completions.create(model="gpt-4.1-mini", messages=[
                {"role": "user", "content": "charge 4111 1111 1111 1111 please"}])
        assert caught.value.entities == ["CREDIT_CARD"] and "4111" not in str(caught.value)
        assert server.requests == []                      # nothing left the process
        ok = client.chat.completions.create(model="gpt-4.1-mini", messages=[
            {"role": "user", "content": "mail ann@example.com"}])  # masked in the store, not blocked
        assert ok.choices[0].message.content == "fine"
        assert server.requests[0].body["messages"][0]["content"] == "mail ann@example.com"  # the call is unchanged
    llmops_nb.flush()
    calls = llmops_nb.sql("SELECT status, error, inputs FROM spans ORDER BY start_ns")
    assert calls.iloc[0]["status"] == "ERROR" and "PiiBlockedError" in calls.iloc[0]["error"]
    assert "4111" not in calls.iloc[0]["inputs"] and "[dropped: CREDIT_CARD]" in calls.iloc[0]["inputs"]
    assert "[EMAIL_1]" in calls.iloc[1]["inputs"]


def test_the_live_otlp_forwarder_sends_masked_values(collector):
    from llmops_nb.otel import _forward

    llmops_nb.configure(pii="mask", otlp_endpoint=f"http://127.0.0.1:{collector.server_address[1]}")
    try:
        values = planted()

        @llmops_nb.trace
        def answer(question):
            return f"sent to {values['email']}"

        answer(f"my card is {values['card']}")
        for _ in range(20):
            if decoded_spans():
                break
            _forward.flush(1.0)
        payload = b"".join(body for body, _ in _Sink.bodies)
        assert decoded_spans() and b"[EMAIL_1]" in payload and b"[CREDIT_CARD_1]" in payload
        assert values["email"].encode() not in payload and b"4111 1111" not in payload
    finally:
        llmops_nb.configure(otlp_endpoint=None)


@pytest.mark.file_store
def test_evaluation_rows_and_feedback_get_the_policy_too(store_path):
    from llmops_nb.evals import evaluate, scorers

    llmops_nb.configure(pii="mask")
    frame = evaluate([{"inputs": {"question": "my mail is ann@example.com"}}],
                     predict_fn=lambda question: "ok, wrote to ann@example.com", scorers=[scorers.length()],
                     progress=False)
    llmops_nb.log_feedback(frame.trace_id[0], False, name="helpful", comment="customer ann@example.com was upset")
    assert b"ann@example.com" not in store_bytes(store_path)


@pytest.mark.slow
def test_the_snapshot_in_a_saved_notebook_shows_masks(tmp_path):
    db = tmp_path / "nb.duckdb"
    cells = [
        "llmops_nb.configure(pii='mask')",
        "%%llm_trace support\n"
        "@llmops_nb.trace\n"
        "def answer(question):\n"
        "    return 'Reach Ann at ann.lee@example.com'\n"
        "_ = answer('card 4111 1111 1111 1111, expiring soon')",
    ]
    executed = run_cells(cells, db)
    assert not any(errors(cell) for cell in executed), [outputs_text(c) for c in executed]
    shown = json.dumps(executed[1].outputs)
    assert "text/html" in shown and "[EMAIL_1]" in shown
    assert "ann.lee@example.com" not in shown and "4111 1111 1111 1111" not in shown


# -- Presidio, the optional second engine ------------------------------------------------------------

def test_presidio_adds_its_entities_and_a_policy_can_name_them():
    pytest.importorskip("presidio_analyzer", reason="pip install presidio-analyzer (in the dev extra)")
    text = "wallet 1BoatSLRHtKNngkdXEeobR76b53LETtpyT; order https://shop.example.com/o/1 ; mail ann@example.com"
    assert found(text, engine="presidio") == [("CRYPTO", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
                                              ("URL", "https://shop.example.com/o/1"), ("EMAIL", "ann@example.com")]
    # the builtin engine alone: a long random-looking token is a key to it (Presidio knows the wallet)
    assert found(text) == [("API_KEY", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"), ("EMAIL", "ann@example.com")]
    policy = {"engine": "presidio", "default": "mask", "URL": "allow", "CRYPTO": "hash"}
    with pytest.raises(PiiPolicyError, match="hash action needs a secret"):
        load_policy(policy)
    assert redact_pii(text, {**policy, "CRYPTO": "drop"}) == "[dropped: CRYPTO]"
    assert redact_pii(text, {"engine": "presidio", "URL": "allow"}) == \
        "wallet [CRYPTO_1]; order https://shop.example.com/o/1 ; mail [EMAIL_1]"
    with pytest.raises(PiiPolicyError, match="unknown PII entity 'URL'"):
        load_policy({"URL": "mask"})                         # a Presidio name needs its engine
    with pytest.raises(PiiPolicyError, match="'spacy' is not an engine; use one of builtin, presidio"):
        load_policy({"engine": "spacy"})
    with pytest.raises(ValueError, match="unknown PII engine"):
        find_pii(text, engine="spacy")
