"""Deterministic scorers and @scorer: values, rationales, and errors that name what is missing."""

from __future__ import annotations

import random
import time

import pytest

import llmops_nb
from llmops_nb.evals import Score, scorer, scorers
from llmops_nb.evals._scorer import check_scorers, to_score
from llmops_nb.evals._text import MissingExpectationError, expected_value, output_text


def run(s, outputs=None, expectations=None, inputs=None):
    return to_score(s.score(inputs=inputs, outputs=outputs, expectations=expectations, trace=None), s.name)


def test_output_text_reads_common_shapes():
    assert output_text("hi") == "hi"
    assert output_text({"answer": "Paris", "sources": []}) == "Paris"
    assert output_text({"choices": [{"message": {"content": "x"}}]}) == "x"
    assert output_text({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}) == "ab"
    assert output_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]) == "a"
    assert output_text(42) == "42" and output_text(None) == ""
    assert output_text({"x": 1}) == '{"x": 1}'


def test_expected_value_rules():
    assert expected_value({"expected_response": "a", "other": 1}, None, "s") == "a"
    assert expected_value({"only": 3}, None, "s") == 3
    assert expected_value("plain", None, "s") == "plain"
    assert expected_value({"a": 1, "b": 2}, "b", "s") == 2
    with pytest.raises(MissingExpectationError, match="pass key="):
        expected_value({"a": 1, "b": 2}, None, "s")
    with pytest.raises(MissingExpectationError, match="no 'expectations'"):
        expected_value(None, None, "exact_match")


def test_exact_match_and_contains():
    assert run(scorers.exact_match(), " Paris ", {"expected_response": "Paris"}).value is True
    assert run(scorers.exact_match(), "paris", "Paris").value is False
    assert run(scorers.exact_match(ignore_case=True), "paris", "Paris").value is True
    assert run(scorers.contains("eiffel"), "The Eiffel Tower").value is True
    missing = run(scorers.contains(), "Paris and Lyon", {"expected_response": ["Paris", "Nice"]})
    assert missing.value is False and "Nice" in missing.rationale
    assert run(scorers.contains("X", ignore_case=False), "x").value is False


def test_regex_and_json():
    assert run(scorers.regex(r"\b\d{4}\b"), "Built in 1889.").rationale == "matched '1889'"
    assert run(scorers.regex("^no"), "yes").value is False
    assert run(scorers.json_valid(), '{"a": [1, 2]}').value is True
    assert run(scorers.json_valid(), {"a": 1}).value is True
    bad = run(scorers.json_valid(), "{'a': 1}")
    assert bad.value is False and "property name" in bad.rationale
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    assert run(scorers.json_schema(schema), '{"age": 3}').value is True
    wrong = run(scorers.json_schema(schema), '{"age": "three"}')
    assert wrong.value is False and wrong.rationale.startswith("at age:")
    assert run(scorers.json_schema(schema), "not json").rationale.startswith("not JSON")


def test_length_edit_distance_rouge_numbers():
    assert run(scorers.length(), "abcd").value == 4
    assert run(scorers.length(unit="words", max=2), "one two three").value is False
    assert run(scorers.edit_distance(), "kitten", "sitting").value == 3
    assert run(scorers.edit_distance(normalized=True), "abcd", "abcd").value == 0
    s = scorers.edit_distance(max_distance=1)
    assert s.passes(1) is True and s.passes(2) is False
    assert run(scorers.rouge_l(), "the cat sat", "the cat sat").value == 1.0
    assert run(scorers.rouge_l(), "dogs bark", "cats meow").value == 0.0
    assert run(scorers.numeric_match(abs_tol=0.01), "It costs $1,234.50 in total.", 1234.5).value is True
    assert run(scorers.numeric_match(), "about 7", {"expected_response": "8"}).value is False
    assert run(scorers.numeric_match(), "no digits", 3).rationale == "no number in the output"
    assert run(scorers.numeric_match(), "3", "three").error.endswith("not a number.")


def _edit_distance_table(a: str, b: str) -> int:
    """The textbook O(n·m) table: the reference the library's result must equal."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _rouge_l_table(got: str, want: str) -> float:
    got, want = got.casefold().split(), want.casefold().split()
    previous = [0] * (len(want) + 1)
    for word in got:
        current = [0]
        for j, other in enumerate(want, 1):
            current.append(previous[j - 1] + 1 if word == other else max(previous[j], current[j - 1]))
        previous = current
    common = previous[-1]
    return 0.0 if not common else 2 * common / (len(got) + len(want))


def test_edit_distance_and_rouge_l_equal_the_textbook_tables():
    rng = random.Random(7)
    words = ["the", "cat", "sat", "on", "mat", "a", "dog"]
    for _ in range(300):
        a = "".join(rng.choice("abcé ") for _ in range(rng.randint(1, 25)))
        b = "".join(rng.choice("abcé ") for _ in range(rng.randint(1, 25)))
        spaced = _edit_distance_table(" ".join(a.split()), " ".join(b.split()))  # the scorer folds whitespace
        assert run(scorers.edit_distance(), a, b).value == spaced
        got = " ".join(rng.choice(words) for _ in range(rng.randint(1, 20)))
        want = " ".join(rng.choice(words) for _ in range(rng.randint(1, 20)))
        assert run(scorers.rouge_l(), got, want).value == pytest.approx(_rouge_l_table(got, want), abs=1e-12)


def test_edit_distance_and_rouge_l_on_100k_characters_finish_fast():
    # The O(n·m) Python tables took about an hour and a half here for this pair; the bound is loose for slow machines.
    rng = random.Random(11)
    a, b = ("".join(rng.choice("abcdefgh  ") for _ in range(100_000)) for _ in range(2))
    started = time.perf_counter()
    distance = run(scorers.edit_distance(normalized=True), a, b).value
    overlap = run(scorers.rouge_l(), a, b).value
    assert time.perf_counter() - started < 20
    assert 0.3 < distance < 1 and 0 < overlap < 1


def test_missing_expectation_is_an_error_not_a_verdict():
    with pytest.raises(MissingExpectationError):
        run(scorers.exact_match(), "Paris", None)


def test_pass_rules():
    base = scorers.exact_match()
    assert base.passes(True) is True and base.passes(None) is None
    assert base.passes("yes") is True and base.passes("FAIL") is False and base.passes("maybe") is None
    assert base.passes(0.7) is None  # no threshold: a number is neither pass nor fail
    assert scorers.rouge_l(threshold=0.5).passes(0.7) is True


def test_scorer_decorator_takes_arguments_by_name():
    @scorer
    def mentions_city(outputs, expectations):
        return expectations["city"] in outputs

    assert mentions_city.needs == frozenset({"outputs", "expectations"})
    assert mentions_city.score(inputs=1, outputs="in Paris", expectations={"city": "Paris"}, trace=None) is True
    assert mentions_city(outputs="Lyon", expectations={"city": "Paris"}) is False

    @scorer(name="loud", threshold=2)
    async def shouting(outputs):
        return outputs.count("!")

    assert shouting.name == "loud" and shouting.is_async and shouting.passes(3)

    with pytest.raises(TypeError, match=r"cannot fill.*inputs, outputs, expectations, trace"):
        @scorer
        def wrong(output):
            return True


def test_return_values_are_normalized():
    assert to_score(True, "s") == Score(True)
    assert to_score({"value": 3, "rationale": "r"}, "s") == Score(3, "r")
    assert to_score(None, "s") == Score(None)
    bad = to_score([1, 2], "s")
    assert bad.value is None and "return a bool" in bad.error


def test_scorer_list_checks():
    assert [s.name for s in check_scorers([scorers.exact_match(), lambda outputs: True])] == ["exact_match",
                                                                                             "<lambda>"]
    with pytest.raises(ValueError, match="Two scorers are named 'contains'"):
        check_scorers([scorers.contains("a"), scorers.contains("b")])
    with pytest.raises(TypeError, match="not a scorer"):
        check_scorers(["exact_match"])
    with pytest.raises(ValueError, match="contains '/'"):
        check_scorers([scorers.exact_match(name="a/b")])


def test_public_surface_reexports():
    from llmops_nb import evals

    assert evals.scorers.correctness is scorers.correctness
    assert sorted(evals.__all__) == evals.__all__ and sorted(scorers.__all__) == scorers.__all__
    for name in evals.__all__:
        assert getattr(evals, name) is not None
    assert callable(llmops_nb.evals.datasets)
