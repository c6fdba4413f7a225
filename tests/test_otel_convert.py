"""One OTel span → one record: the conversion every road shares (bridge, receiver, import)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("opentelemetry.proto")

from llmops_nb.otel import _convert, _mapping
from llmops_nb.otel._convert import OtelSpan, to_record
from llmops_nb.otel._otlp_decode import decode_protobuf
from llmops_nb.tracing import _record as rec
from tests.support import subprocess_env

CAP = 100_000


def span(**attributes):
    return OtelSpan(0xABC, 0x1, 0, "s", 1, 1_700_000_000_000_000_000, 1_700_000_001_000_000_000, 0, None,
                    attributes)


def test_json_payloads_are_stored_as_sent_and_other_values_as_json():
    record = to_record(span(**{"input.value": '{"q":  "Paris?"}', "input.mime_type": "application/json",
                               "output.value": "plain answer"}), CAP)
    assert record[rec.INPUTS] == '{"q":  "Paris?"}'  # the sender's text, not parsed and written again
    assert record[rec.OUTPUTS] == '"plain answer"'
    for text, expected in (('{"n": NaN}', {"n": "nan"}), ('{"broken', '{"broken')):
        record = to_record(span(**{"input.value": text, "input.mime_type": "application/json"}), CAP)
        assert json.loads(record[rec.INPUTS]) == expected  # never invalid JSON in the column


def test_an_over_long_json_payload_is_capped_and_says_so():
    value = json.dumps({"messages": ["x" * 5_000, "short"]})
    record = to_record(span(**{"input.value": value, "input.mime_type": "application/json"}), 2_000)
    json.loads(record[rec.INPUTS])
    assert len(record[rec.INPUTS]) < 2_200
    assert json.loads(record[rec.ATTRIBUTES])["llmops_nb.truncated"]["inputs"]["original_chars"] >= 5_000


def test_a_retriever_with_a_query_outputs_its_documents():
    record = to_record(span(**{"openinference.span.kind": "RETRIEVER", "input.value": "where is Paris?",
                               "retrieval.documents.0.document.content": "Paris is in France",
                               "retrieval.documents.0.document.score": 0.9}), CAP)
    assert json.loads(record[rec.OUTPUTS]) == [{"content": "Paris is in France", "score": 0.9}]


def test_odd_list_indexes_are_kept_as_attributes_not_a_crash():
    record = to_record(span(**{"llm.input_messages.٣.message.role": "user",  # a decimal digit, not ASCII
                               "llm.input_messages.0.message.tool_calls.².tool_call.id": "c",  # not decimal
                               "llm.input_messages.x.message.role": "user"}), CAP)
    attributes = json.loads(record[rec.ATTRIBUTES])
    assert attributes["llm.input_messages.x.message.role"] == "user"
    assert [m["role"] for m in attributes["gen_ai.input.messages"]] == ["user", "user"]


def test_same_records_without_orjson(monkeypatch, store_path):
    """orjson only speeds the receiver up: the stdlib path gives the same data."""
    # Real OpenInference LangChain spans, made in a child process: here the instrumentor may be on already
    make = ("import sys; from benchmarks._otel_load import bodies; "
            "sys.stdout.buffer.write(bodies('langchain', 0, 0, 1)[0][0])")
    body = subprocess.run([sys.executable, "-c", make], capture_output=True, check=True, timeout=120,
                          env=subprocess_env(store_path)).stdout
    fast = [to_record(s, CAP) for s in decode_protobuf(body)]
    monkeypatch.setattr(_convert, "_orjson_dumps", None)
    monkeypatch.setattr(_mapping, "_strict_loads", json.JSONDecoder(parse_constant=_mapping._refuse_constant).decode)
    monkeypatch.setattr(_mapping, "_LOAD_ERRORS", (ValueError, RecursionError))
    slow = [to_record(s, CAP) for s in decode_protobuf(body)]
    assert len(fast) == len(slow) == 512
    for a, b in zip(fast, slow, strict=True):
        for field in range(rec.FIELDS):
            if field in (rec.ATTRIBUTES, rec.EVENTS) and a[field] is not None:
                assert json.loads(a[field]) == json.loads(b[field])
            elif field != rec.SIZE:  # compact vs spaced JSON: a few bytes apart
                assert a[field] == b[field], field
    kinds = {r[rec.KIND] for r in fast}
    assert {"CHAT_MODEL", "TOOL", "CHAIN"} <= kinds
