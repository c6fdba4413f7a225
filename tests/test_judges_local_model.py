"""A judge on the real offline model (SmolLM2-135M): plumbing and reply parsing, never judgement quality.

A 135M model cannot judge; what it shows is that whatever it writes ends as a
parsed verdict or as an error cell holding its raw reply — never a crash and
never a made-up value. The model answers from its own server process
(llmops_nb.local_model): this test process never loads llama.cpp, so a native
crash there cannot take the test run down.
"""

from __future__ import annotations

import sys

import pandas as pd
import pytest

import llmops_nb
from llmops_nb.evals import assessments, evaluate, make_judge, scorers
from llmops_nb.models import get_model


@pytest.mark.local_model
def test_local_judge_plumbing_and_parsing():
    model = get_model("local:/smollm2", timeout=120)
    reply = model.chat("What is the capital of France?", max_tokens=16)
    assert reply.text.strip() and reply.output_tokens > 0

    judge = make_judge("correct", "Question: {{ inputs }}\nAnswer: {{ outputs }}\nIs the answer correct?",
                       model=model, max_tokens=48)
    rated = make_judge("rating", "Rate the answer {{ outputs }} to {{ inputs }}.", model=model,
                       value_type=int, scale=(1, 5), max_tokens=48, json_mode=True)
    data = [{"inputs": {"question": "What is the capital of France?"}, "outputs": "Paris"},
            {"inputs": {"question": "What is 2 + 2?"}, "outputs": "5"}]
    df = evaluate(data, scorers=[judge, rated, scorers.length()], max_concurrency=2, progress=False)

    for name, allowed in (("correct", (True, False)), ("rating", (1, 2, 3, 4, 5))):
        for value, error in zip(df[f"{name}/value"].astype(object), df[f"{name}/error"], strict=True):
            if error is None:
                assert value in allowed
            else:  # unreadable: no value, and the raw reply kept for the user to read
                assert pd.isna(value)
                assert "raw reply" in error or "ModelCallError" in error
    llmops_nb.flush()
    stored = assessments(run_id=df.attrs["run_id"])
    assert len(stored) == 6 and set(stored.source_type) == {"LLM_JUDGE", "CODE"}
    spans = llmops_nb.spans(df.trace_id[0])
    chat = spans[spans.kind == "CHAT_MODEL"]
    assert len(chat) == 2 and set(chat.model) == {"smollm2-135m-instruct"}
    evaluators = set(spans[spans.kind == "EVALUATOR"].span_id)
    assert set(chat.parent_span_id) <= evaluators
    assert "llama_cpp" not in sys.modules
