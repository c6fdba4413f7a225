"""Bad input never breaks the user's code: anything is stored as capped, valid JSON."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pydantic
import pytest

import llmops_nb
from llmops_nb.tracing._serialize import to_json


class Model(pydantic.BaseModel):
    name: str
    score: float


@dataclasses.dataclass
class Doc:
    id: str
    text: str


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr for you")


def _cyclic():
    a = {"name": "a"}
    a["self"] = a
    lst = [1]
    lst.append(lst)
    return {"dict": a, "list": lst}


WEIRD = {
    "numpy": np.arange(12).reshape(3, 4),
    "numpy_scalar": np.float32(1.5),
    "pydantic": Model(name="m", score=0.5),
    "dataclass": Doc("d1", "hello"),
    "bytes": b"\x00\xffbinary",
    "set": {3, 1, 2},
    "cyclic": _cyclic(),
    "bad_repr": BadRepr(),
    "surrogate": "lone \ud800 surrogate",
    "nan": float("nan"),
    "bigint": 2**80,
    "nested": [[[[[["deep"]]]]]],
    "tuple_keys": {(1, 2): "tuple key"},
}


@pytest.mark.parametrize("name", sorted(WEIRD))
def test_weird_values_serialize_to_json(name):
    text, capped = to_json(WEIRD[name], 10_000)
    json.loads(text)
    assert capped is None


def test_weird_values_round_trip_through_the_store():
    @llmops_nb.trace
    def tool(**kwargs):
        return kwargs

    assert tool(**WEIRD) is not None
    assert llmops_nb.flush()
    row = llmops_nb.spans(llmops_nb.traces().trace_id[0]).iloc[0]
    inputs = row.inputs
    assert inputs["numpy"]["shape"] == [3, 4] and inputs["numpy"]["values"][:3] == [0, 1, 2]
    assert inputs["pydantic"] == {"name": "m", "score": 0.5}
    assert inputs["dataclass"] == {"id": "d1", "text": "hello"}
    assert inputs["bytes"]["length"] == 8
    assert inputs["set"] == [1, 2, 3]
    assert inputs["cyclic"]["dict"]["self"].startswith("<cycle")
    assert "repr raised RuntimeError" in inputs["bad_repr"]
    assert inputs["surrogate"].startswith("lone ") and inputs["surrogate"].endswith(" surrogate")
    assert inputs["nan"] == "nan" and inputs["bigint"] == str(2**80)
    assert row.outputs["set"] == [1, 2, 3]


def test_huge_strings_are_capped_and_the_cap_is_recorded():
    llmops_nb.configure(max_payload_chars=10_000)
    try:
        big = "x" * 50_000_000

        @llmops_nb.trace
        def echo(text):
            return len(text)

        assert echo(big) == 50_000_000
        with llmops_nb.span("direct") as s:
            s.set_outputs(big)
        assert llmops_nb.flush()
        frame = llmops_nb.sql("SELECT name, inputs, outputs, attributes FROM spans ORDER BY start_ns")
    finally:
        llmops_nb.configure(max_payload_chars=200_000)
    for _, row in frame.iterrows():
        payload = row.inputs if row["name"] == "echo" else row.outputs
        assert len(payload) < 10_200
        assert "truncated" in payload
        note = json.loads(row.attributes)["llmops_nb.truncated"]
        field = "inputs" if row["name"] == "echo" else "outputs"
        assert note[field]["cap_chars"] == 10_000 and note[field]["original_chars"] >= 50_000_000


def test_many_items_are_capped():
    text, capped = to_json(list(range(100_000)), 100_000)
    data = json.loads(text)
    assert capped is not None and len(data) <= 10_001 and "more items" in data[-1]


def test_unserializable_attribute_values_are_stored_safely():
    with llmops_nb.span("attrs") as s:
        s.set_attribute("obj", BadRepr())
        s.set_attribute("arr", np.ones(3))
        s.set_attribute("text", "bad \udc80 text")
    assert llmops_nb.flush()
    attrs = llmops_nb.spans(llmops_nb.traces().trace_id[0]).iloc[0].attributes
    assert "repr raised" in attrs["obj"] and attrs["arr"]["shape"] == [3]
    assert attrs["text"].startswith("bad ")


def test_span_names_with_surrogates_and_exceptions_with_bad_str():
    class Weird(Exception):
        def __str__(self):
            raise ValueError("no str")

    with pytest.raises(Weird), llmops_nb.span("name \ud83d here"):
        raise Weird()
    assert llmops_nb.flush()
    row = llmops_nb.spans(llmops_nb.traces().trace_id[0]).iloc[0]
    assert row.status == "ERROR" and "str() raised" in row.status_message
