"""Deterministic scorers: exact match, contains, regex, JSON, length, edit distance, ROUGE-L, numbers.

Each compares the output's text (see :func:`~._text.output_text`) with an
argument or with the row's expected value (``expectations["expected_response"]``,
the only expectation, or ``key=``). A row without the expectation a scorer
needs gets an error in ``<scorer>/error``, never a silent pass or fail.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from ._scorer import Score, Scorer
from ._text import expected_value, output_text

_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?")


class _Check(Scorer):
    """A deterministic scorer built from a function of (outputs, expectations)."""

    inline = True

    def __init__(self, name: str, check: Callable[[Any, Any], Any], needs: tuple[str, ...],
                 threshold: float | None = None, lower_is_better: bool = False) -> None:
        self.name, self._check = name, check
        self.needs = frozenset(needs)
        self.threshold, self.lower_is_better = threshold, lower_is_better

    def score(self, **arguments: Any) -> Any:
        return self._check(arguments.get("outputs"), arguments.get("expectations"))


def _norm(text: str, ignore_case: bool, ignore_whitespace: bool) -> str:
    if ignore_whitespace:
        text = " ".join(text.split())
    return text.casefold() if ignore_case else text


def exact_match(*, key: str | None = None, ignore_case: bool = False, ignore_whitespace: bool = True,
                name: str = "exact_match") -> Scorer:
    """True when the output text equals the expected value.

    >>> exact_match(ignore_case=True).score(outputs="Paris ", expectations={"expected_response": "paris"})
    True
    """
    def check(outputs: Any, expectations: Any) -> Any:
        expected = str(expected_value(expectations, key, name))
        return _norm(output_text(outputs), ignore_case, ignore_whitespace) == \
            _norm(expected, ignore_case, ignore_whitespace)
    return _Check(name, check, ("outputs", "expectations"))


def contains(substring: str | list[str] | None = None, *, key: str | None = None, ignore_case: bool = True,
             name: str = "contains") -> Scorer:
    """True when the output contains ``substring`` (or every expected string, when none is given).

    >>> contains("paris").score(outputs="It is Paris.", expectations=None)
    True
    """
    def check(outputs: Any, expectations: Any) -> Any:
        wanted = substring if substring is not None else expected_value(expectations, key, name)
        wanted = [wanted] if isinstance(wanted, str) else [str(w) for w in wanted]
        text = output_text(outputs)
        text = text.casefold() if ignore_case else text
        missing = [w for w in wanted if (w.casefold() if ignore_case else w) not in text]
        return Score(not missing, f"missing: {missing}" if missing else None)
    return _Check(name, check, ("outputs",) if substring is not None else ("outputs", "expectations"))


def regex(pattern: str, *, flags: int = 0, name: str = "regex") -> Scorer:
    r"""True when ``pattern`` is found in the output text (``re.search``).

    >>> regex(r"\d{4}").score(outputs="Founded in 1889.")
    Score(value=True, rationale="matched '1889'", error=None)
    """
    compiled = re.compile(pattern, flags)

    def check(outputs: Any, expectations: Any) -> Any:
        found = compiled.search(output_text(outputs))
        return Score(found is not None, f"matched {found.group(0)[:200]!r}" if found else None)
    return _Check(name, check, ("outputs",))


def _as_json(outputs: Any) -> Any:
    if isinstance(outputs, str):
        return json.loads(outputs)
    json.dumps(outputs, allow_nan=False)
    return outputs


def json_valid(*, name: str = "json_valid") -> Scorer:
    """True when the output is valid JSON (a string that parses, or a JSON-serializable value).

    >>> json_valid().score(outputs='{"a": 1')
    Score(value=False, rationale="Expecting ',' delimiter: line 1 column 8 (char 7)", error=None)
    """
    def check(outputs: Any, expectations: Any) -> Any:
        try:
            _as_json(outputs)
        except (ValueError, TypeError) as exc:
            return Score(False, str(exc))
        return Score(True)
    return _Check(name, check, ("outputs",))


def json_schema(schema: dict[str, Any], *, name: str = "json_schema") -> Scorer:
    """True when the output is JSON valid against ``schema`` (needs the ``jsonschema`` package).

    >>> json_schema({"type": "object", "required": ["city"]}).score(outputs='{"city": "Paris"}')
    Score(value=True, rationale=None, error=None)
    """
    try:
        import jsonschema
    except ImportError as exc:
        raise ImportError("scorers.json_schema needs the jsonschema package: pip install jsonschema") from exc
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def check(outputs: Any, expectations: Any) -> Any:
        try:
            value = _as_json(outputs)
        except (ValueError, TypeError) as exc:
            return Score(False, f"not JSON: {exc}")
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
        if error is None:
            return Score(True)
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return Score(False, f"at {where}: {error.message}")
    return _Check(name, check, ("outputs",))


def length(*, min: int | None = None, max: int | None = None, unit: str = "chars",
           name: str = "length") -> Scorer:
    """The output's length in ``chars`` or ``words``; with ``min``/``max``, whether it is within them.

    >>> length(unit="words").score(outputs="one two three")
    3
    """
    if unit not in ("chars", "words"):
        raise ValueError(f"length(unit={unit!r}): use 'chars' or 'words'.")

    def check(outputs: Any, expectations: Any) -> Any:
        text = output_text(outputs)
        size = len(text.split()) if unit == "words" else len(text)
        if min is None and max is None:
            return size
        ok = (min is None or size >= min) and (max is None or size <= max)
        bounds = f"{'' if min is None else min}..{'' if max is None else max}"
        return Score(ok, f"{size} {unit}, allowed {bounds}")
    return _Check(name, check, ("outputs",))


def levenshtein(a: str, b: str) -> int:
    """Insertions, deletions and substitutions turning ``a`` into ``b``.

    rapidfuzz's bit-parallel algorithm: two 100k-character texts take well under a second,
    where the textbook O(n·m) table in Python took hours.
    """
    from rapidfuzz.distance import Levenshtein

    return int(Levenshtein.distance(a, b))


def edit_distance(*, key: str | None = None, normalized: bool = False, max_distance: float | None = None,
                  ignore_case: bool = False, name: str = "edit_distance") -> Scorer:
    """Levenshtein distance from the expected text (lower is better); ``normalized`` divides by the longer length.

    ``max_distance`` sets the pass threshold (distance ≤ max_distance).

    >>> edit_distance().score(outputs="Pariss", expectations="Paris")
    1
    """
    def check(outputs: Any, expectations: Any) -> Any:
        a = _norm(output_text(outputs), ignore_case, True)
        b = _norm(str(expected_value(expectations, key, name)), ignore_case, True)
        distance = levenshtein(a, b)
        return distance / (max(len(a), len(b)) or 1) if normalized else distance
    return _Check(name, check, ("outputs", "expectations"), threshold=max_distance, lower_is_better=True)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def longest_common_subsequence(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two word lists (rapidfuzz, bit-parallel)."""
    from rapidfuzz.distance import LCSseq

    # Words become small integers first: compared by identity of the id, never by a hash that could collide.
    ids: dict[str, int] = {}
    return int(LCSseq.similarity([ids.setdefault(w, len(ids)) for w in a], [ids.setdefault(w, len(ids)) for w in b]))


def rouge_l(*, key: str | None = None, threshold: float | None = None, name: str = "rouge_l") -> Scorer:
    """ROUGE-L F1 between the output and the expected text: longest common word subsequence, 0..1.

    >>> round(rouge_l().score(outputs="the cat sat on the mat", expectations="the cat is on the mat"), 3)
    0.833
    """
    def check(outputs: Any, expectations: Any) -> Any:
        got, want = _words(output_text(outputs)), _words(str(expected_value(expectations, key, name)))
        if not got or not want:
            return 0.0
        common = longest_common_subsequence(got, want)
        if not common:
            return 0.0
        precision, recall = common / len(got), common / len(want)
        return 2 * precision * recall / (precision + recall)
    return _Check(name, check, ("outputs", "expectations"), threshold=threshold)


def first_number(value: Any) -> float | None:
    """A number, or the first number written in a text ("1,234.5", "$12", "-3e2")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    for match in _NUMBER.finditer(output_text(value)):
        token = match.group(0)
        if any(ch.isdigit() for ch in token):
            return float(token.replace(",", ""))
    return None


def numeric_match(*, key: str | None = None, abs_tol: float = 0.0, rel_tol: float = 1e-9,
                  name: str = "numeric_match") -> Scorer:
    """True when the first number in the output is within tolerance of the expected number.

    >>> numeric_match(abs_tol=0.01).score(outputs="About 3.14159.", expectations=3.14)
    Score(value=True, rationale='3.14159 vs 3.14', error=None)
    """
    def check(outputs: Any, expectations: Any) -> Any:
        expected = first_number(expected_value(expectations, key, name))
        if expected is None:
            return Score(None, error=f"{name}: the expected value is not a number.")
        got = first_number(outputs)
        if got is None:
            return Score(False, "no number in the output")
        ok = math.isclose(got, expected, rel_tol=rel_tol, abs_tol=abs_tol)
        return Score(ok, f"{got:g} vs {expected:g}")
    return _Check(name, check, ("outputs", "expectations"))
