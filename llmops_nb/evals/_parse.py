"""Reading a verdict out of a judge's reply, however the model chose to write it.

Tried in order, first hit wins:

1. a JSON object — the whole reply, a fenced ```json block, or one embedded in
   prose — with a verdict key (``result``, ``value``, ``score``, ``verdict``,
   ``rating``, ``answer``, ``label`` …) and optionally a rationale key;
2. JSON-looking ``"result": "yes"`` pairs in a reply that is not valid JSON
   (cut off by ``max_tokens``, trailing commas);
3. labelled lines: ``Score: 4``, ``**Verdict** - PASS``, ``Final answer: no``,
   ``the answer is yes`` (the last one counts: models conclude at the end);
4. the reply's first word (``Yes.``, ``4/5``, ``FAIL — because …``), then its
   last line.

Nothing is guessed from words scattered in prose ("…is not correct…"): if no
rule finds a verdict of the expected type, :class:`JudgeParseError` is raised
and the caller records a missing value with the raw reply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .._errors import LlmopsError

VALUE_KEYS = ("result", "value", "score", "verdict", "rating", "answer", "label", "judgement", "judgment",
              "grade", "decision", "pass", "passed", "correct")
RATIONALE_KEYS = ("rationale", "reason", "reasoning", "explanation", "justification", "why", "comment", "analysis")
TRUE_WORDS = frozenset({"yes", "y", "true", "pass", "passed", "correct", "1"})
FALSE_WORDS = frozenset({"no", "n", "false", "fail", "failed", "incorrect", "0"})
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_KEYS = "|".join(VALUE_KEYS)
_PAIR = re.compile(rf'"({_KEYS})"\s*:\s*("(?:[^"\\]|\\.)*"|[-+\w.]+)', re.IGNORECASE)
_WHY = "|".join(RATIONALE_KEYS)
_RATIONALE_PAIR = re.compile(rf'"({_WHY})"\s*:\s*"((?:[^"\\]|\\.)*)', re.IGNORECASE)
_LABELS = "|".join(VALUE_KEYS[:-3])
_LABEL = re.compile(
    rf"(?im)^[\s>*#_-]*(?:final\s+|overall\s+)?(?:{_LABELS})[\s*_]*(?:[:=]|-(?!\d)|\bis\b:?)\s*[*_]*\s*(.+?)\s*$")
_INLINE_VERDICT = re.compile(r"(?i)\b(?:answer|verdict|result|score|rating)\s+is:?\s+[*_\"']*([\w./]+)")
_RATIONALE_LABEL = re.compile(rf"(?im)^[\s>*#_-]*(?:{_WHY})[\s*_]*[:=-]\s*[*_]*\s*(.+)$")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_MAX_RAW = 2000
_PLAIN_VERDICTS = frozenset({"yes", "no", "pass", "fail"})


class JudgeParseError(LlmopsError, ValueError):
    """No verdict of the expected type in the reply."""


@dataclass(frozen=True)
class ValueType:
    """What a judge's verdict must be: yes/no, an integer on a scale, a number, or one of some labels."""

    kind: str = "bool"  # bool | int | float | choice
    scale: tuple[float, float] | None = None
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "bool":
            return '"yes" or "no"'
        if self.kind == "choice":
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        if self.scale:
            word = "an integer" if self.kind == "int" else "a number"
            return f"{word} from {self.scale[0]:g} to {self.scale[1]:g}"
        return "an integer" if self.kind == "int" else "a number"

    def coerce(self, raw: Any) -> Any:
        """The verdict as this type, or raise ValueError."""
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw
            word = _word(str(raw))
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise ValueError(f"{str(raw)[:80]!r} is not yes/no")
        if self.kind == "choice":
            text = str(raw).strip().strip("*_\"'`.").strip()
            for choice in self.choices:
                if text.casefold() == choice.casefold() or _word(text) == choice.casefold():
                    return choice
            raise ValueError(f"{text[:80]!r} is not {self.describe()}")
        if isinstance(raw, bool):
            raise ValueError("a boolean is not a number")
        if isinstance(raw, (int, float)):
            number = float(raw)
        else:
            match = _NUMBER.match(str(raw).strip().strip("*_\"'`"))
            if not match:
                raise ValueError(f"{str(raw)[:80]!r} is not a number")
            number = float(match.group(0))
        if self.scale and not self.scale[0] <= number <= self.scale[1]:
            raise ValueError(f"{number:g} is outside the scale {self.scale[0]:g}..{self.scale[1]:g}")
        if self.kind == "int":
            if number != int(number):
                raise ValueError(f"{number:g} is not an integer")
            return int(number)
        return number


def parse_reply(text: str, value_type: ValueType = ValueType()) -> tuple[Any, str | None]:
    """``(verdict, rationale)`` from a judge's reply, or raise :class:`JudgeParseError`.

    >>> parse_reply('Sure!\\n```json\\n{"rationale": "matches", "result": "Yes"}\\n```')
    (True, 'matches')
    >>> parse_reply("Score: 4\\nThe answer is mostly right.", ValueType("int", (1, 5)))
    (4, 'The answer is mostly right.')
    """
    reply = (text or "").strip()
    if not reply:
        raise JudgeParseError("the judge's reply was empty")
    problems: list[str] = []
    for step in (_from_json, _from_pairs, _from_labels, _from_edges):
        try:
            found = step(reply, value_type)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if found is not None:
            return found
    detail = f" ({problems[0]})" if problems else ""
    raise JudgeParseError(f"could not read {value_type.describe()} from the judge's reply{detail}; "
                          f"raw reply: {reply[:_MAX_RAW]!r}")


def _from_json(reply: str, value_type: ValueType) -> tuple[Any, str | None] | None:
    for candidate in _json_objects(reply):
        lowered = {str(k).lower(): v for k, v in candidate.items()}
        key = next((k for k in VALUE_KEYS if k in lowered), None)
        if key is None:
            others = [k for k in lowered if k not in RATIONALE_KEYS]
            key = others[0] if len(others) == 1 else None
        if key is None:
            continue
        rationale = next((str(lowered[k]) for k in RATIONALE_KEYS if lowered.get(k)), None)
        return value_type.coerce(lowered[key]), rationale
    return None


def _json_objects(reply: str) -> list[dict[str, Any]]:
    texts = [block.strip() for block in _FENCE.findall(reply)] + [reply]
    found: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    for text in texts:
        start = text.find("{")
        while start != -1 and len(found) < 8:
            try:
                value, end = decoder.raw_decode(text, start)
            except ValueError:
                start = text.find("{", start + 1)
                continue
            if isinstance(value, dict):
                found.append(value)
            start = text.find("{", end)
    return found


def _from_pairs(reply: str, value_type: ValueType) -> tuple[Any, str | None] | None:
    match = _PAIR.search(reply)
    if not match:
        return None
    raw = match.group(2)
    value = json.loads(raw) if raw.startswith('"') else raw
    rationale = _RATIONALE_PAIR.search(reply)
    return value_type.coerce(value), rationale.group(2) if rationale else None


def _from_labels(reply: str, value_type: ValueType) -> tuple[Any, str | None] | None:
    found = [(m.start(), m, True) for m in _LABEL.finditer(reply)]
    for match in _INLINE_VERDICT.finditer(reply):  # "…the answer is yes." — only plain verdict words count here
        token = match.group(1)
        if (value_type.kind != "bool" or _word(token) in _PLAIN_VERDICTS) and \
                (value_type.kind == "bool" or _NUMBER.match(token) or value_type.kind == "choice"):
            found.append((match.start(), match, False))
    if not found:
        return None
    errors = []
    for _, match, whole_line in sorted(found, key=lambda item: item[0], reverse=True):  # the last verdict counts
        try:
            value = value_type.coerce(_first_token(match.group(1), value_type))
        except ValueError as exc:
            errors.append(str(exc))
            continue
        return value, _rationale(reply, match.group(0) if whole_line else "")
    raise ValueError(errors[0])


def _from_edges(reply: str, value_type: ValueType) -> tuple[Any, str | None] | None:
    lines = [line.strip() for line in reply.splitlines() if line.strip()]
    match = _leading_verdict(lines[0], value_type)
    if match is not None:
        value = value_type.coerce(match.group(1))
        rest = reply.strip()[len(lines[0]):].strip()
        head = lines[0][match.end():].lstrip(" .,:;!)-—–*_").rstrip()
        return value, ("\n".join(p for p in (head, rest) if p)) or None
    if len(lines) > 1 and len(lines[-1].split()) <= 3:  # a short closing line: "Yes." / "**4/5**"
        match = _leading_verdict(lines[-1], value_type)
        if match is not None:
            return value_type.coerce(match.group(1)), "\n".join(lines[:-1]) or None
    return None


def _leading_verdict(line: str, value_type: ValueType) -> re.Match[str] | None:
    """A verdict that opens ``line`` and is followed by its end or punctuation ("No problem" is not a "no")."""
    if value_type.kind in ("int", "float"):
        pattern = r"^[\s*_`\"'(\[]*([-+]?\d+(?:\.\d+)?)\s*(?:(?:/|out of)\s*\d+)?\s*(?=$|[.,:;!)\]*_—–-])"
    elif value_type.kind == "choice":
        alternatives = "|".join(re.escape(c) for c in sorted(value_type.choices, key=len, reverse=True))
        pattern = rf"(?i)^[\s*_`\"'(\[]*({alternatives})[\s\"'`]*(?=$|[.,:;!)\]*_—–-])"
    else:
        pattern = r"^[\s*_`\"'(\[]*(\w+)[\s\"'`]*(?=$|[.,:;!)\]*_—–-])"
    match = re.match(pattern, line)
    if match is None:
        return None
    try:
        value_type.coerce(match.group(1))
    except ValueError:
        return None
    return match


def _first_token(text: str, value_type: ValueType) -> str:
    text = text.strip().strip("*_`\"'#>").strip()
    if value_type.kind in ("int", "float"):
        match = _NUMBER.search(text)
        if match and text[:match.start()].strip(" *_`\"'([") == "":
            return match.group(0)
    elif value_type.kind == "choice":
        for choice in sorted(value_type.choices, key=len, reverse=True):
            if text.casefold().startswith(choice.casefold()):
                return choice
    return text.split()[0] if text.split() else text


def _word(text: str) -> str:
    return re.sub(r"^[^\w]+|[^\w]+$", "", text.strip().split()[0] if text.strip() else "").casefold()


def _rationale(reply: str, verdict_line: str) -> str | None:
    labelled = _RATIONALE_LABEL.search(reply)
    if labelled:
        return labelled.group(1).strip()
    rest = (reply.replace(verdict_line, "", 1) if verdict_line else reply).strip()
    return rest[:_MAX_RAW] or None
