"""Datasets: every accepted source, immutable versions, and new versions from evaluation rows."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import llmops_nb
from llmops_nb.evals import datasets, eval_runs, evaluate, scorers

ROWS = [{"inputs": {"country": "France"}, "expectations": {"expected_response": "Paris"}},
        {"inputs": {"country": "Japan"}, "expectations": {"expected_response": "Tokyo"}}]


def capital(country):
    return {"France": "Paris", "Japan": "Kyoto"}[country]


def test_create_load_and_version():
    first = datasets.create("capitals", ROWS, description="two rows")
    assert (first.name, first.version, len(first)) == ("capitals", 1, 2)
    second = datasets.create("capitals", ROWS[:1])
    assert second.version == 2 and second.info["parent_version"] == 1
    assert len(datasets.load("capitals")) == 1 and len(datasets.load("capitals", version=1)) == 2
    listing = datasets()
    assert listing[["name", "version", "row_count"]].values.tolist() == [["capitals", 2, 1], ["capitals", 1, 2]]
    frame = datasets.load("capitals", 1).df
    assert list(frame.columns) == ["record_id", "inputs", "expectations", "outputs", "source_trace_id"]
    assert frame.inputs[0] == {"country": "France"} and frame.expectations[1] == {"expected_response": "Tokyo"}
    assert frame.record_id.nunique() == 2
    assert datasets.load("capitals", 1).records[0].record_id == second.records[0].record_id  # same content


def test_sources_dataframe_jsonl_csv(tmp_path):
    frame = pd.DataFrame(ROWS)
    assert datasets.create("from_df", frame).df.inputs.tolist() == [r["inputs"] for r in ROWS]
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    assert datasets.create("from_jsonl", path).info["source"] == f"jsonl:{path}"
    csv = tmp_path / "qa.csv"
    pd.DataFrame({"inputs": [json.dumps(r["inputs"]) for r in ROWS],
                  "expectations": [json.dumps(r["expectations"]) for r in ROWS]}).to_csv(csv, index=False)
    loaded = datasets.create("from_csv", csv).df
    assert loaded.inputs[1] == {"country": "Japan"} and loaded.expectations[0] == {"expected_response": "Paris"}
    flat = tmp_path / "flat.csv"
    pd.DataFrame({"question": ["2+2", "3+3"], "answer": ["4", "6"], "notes": ["a", None]}).to_csv(flat, index=False)
    grouped = datasets.create("flat", flat, inputs=["question"], expectations=["answer"]).df
    assert grouped.inputs.tolist() == [{"question": "2+2"}, {"question": "3+3"}]
    assert grouped.expectations.tolist() == [{"answer": "4"}, {"answer": "6"}]


def test_bad_data_names_the_fix(tmp_path):
    with pytest.raises(ValueError, match="inputs=\\['question'"):
        datasets.create("bad", [{"question": "q"}])
    with pytest.raises(ValueError, match=r"unknown columns \['notes'\]"):
        datasets.create("bad", [{"inputs": {"q": 1}, "notes": "x"}])
    with pytest.raises(ValueError, match="no rows"):
        datasets.create("bad", [])
    with pytest.raises(FileNotFoundError):
        datasets.create("bad", tmp_path / "missing.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"inputs": 1}\n{oops\n')
    with pytest.raises(ValueError, match=r"broken\.jsonl:2 is not JSON"):
        datasets.create("bad", broken)
    with pytest.raises(ValueError, match="columns that are not in the data"):
        datasets.create("bad", [{"q": 1}], inputs=["question"])
    with pytest.raises(LookupError, match="Create one with"):
        datasets.load("nothing")
    with pytest.raises(ValueError, match="non-empty name"):
        datasets.create("", ROWS)


def test_from_traces_and_evaluate_a_dataset():
    @llmops_nb.trace
    def answer(country):
        return capital(country)

    for country in ("France", "Japan"):
        answer(country)
    ds = datasets.from_traces("prod", name="answer")
    assert len(ds) == 2 and ds.info["source"] == "traces"
    assert sorted(r.outputs for r in ds.records) == ["Kyoto", "Paris"]
    assert all(r.source_trace_id for r in ds.records)
    rerun = evaluate(ds, predict_fn=capital, scorers=[scorers.length()], progress=False)
    assert rerun.attrs["dataset"] == {"name": "prod", "version": 1}
    assert not set(rerun.trace_id) & {r.source_trace_id for r in ds.records}  # a predict_fn makes new traces
    run = eval_runs().iloc[0]
    assert (run.dataset_name, run.dataset_version, run["name"]) == ("prod", 1, "prod")
    with pytest.raises(LookupError, match="not in the store"):
        datasets.from_traces("x", ["0" * 32])


def test_new_version_from_selected_eval_rows():
    base = datasets.create("capitals", ROWS)
    df = evaluate(base, predict_fn=capital, scorers=[scorers.exact_match()], progress=False)
    assert df["exact_match/value"].tolist() == [True, False]
    # Adopt the (wrong) answer of row 1 as the new expectation: a new version, the other row kept.
    fixed = datasets.from_eval_rows(df, [1], expectations_from_outputs=True)
    assert (fixed.name, fixed.version, len(fixed)) == ("capitals", 2, 2)
    by_id = {r.record_id: r for r in fixed.records}
    assert by_id[base.records[1].record_id].expectations == {"expected_response": "Kyoto"}
    assert by_id[base.records[0].record_id].expectations == {"expected_response": "Paris"}
    assert fixed.info["source"] == f"eval_run:{df.attrs['run_id']}"
    # From a run id alone (after a restart), into a new dataset, only the selected rows.
    only = datasets.from_eval_rows(df.attrs["run_id"], [0], name="regressions", append=False)
    assert (only.name, only.version, len(only)) == ("regressions", 1, 1)
    assert only.records[0].source_trace_id == df.trace_id[0]
    with pytest.raises(KeyError, match=r"Rows \[7\]"):
        datasets.from_eval_rows(df, [7])
    with pytest.raises(ValueError, match="no run_id"):
        datasets.from_eval_rows(pd.DataFrame({"inputs": [1]}), [0])
