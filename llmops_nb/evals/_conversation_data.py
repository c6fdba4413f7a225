"""Conversation data and the agent's contract: which rows are conversations, what the agent gets and returns.

A conversation row is a dict (a list of them, a DataFrame, a ``.jsonl``/``.json`` file) with either

* ``turns``: the user's messages, in order — strings, or ``{"content": "...", "expectations": {...}}``
  for a turn that per-turn scorers compare with something — a *scripted* conversation; or
* ``goal`` (and optionally ``persona``, ``max_turns``, ``first_message``): a *simulated* one, where a
  :class:`~._simulated_user.SimulatedUser` writes the user's messages until the goal is met or
  ``max_turns`` agent replies were given;

plus, for both, ``expectations`` (read by conversation judges, e.g. ``{"goal": ...}`` for a scripted
one), ``context`` (keyword arguments for the agent, as MLflow's simulator passes a test case's
context) and ``record_id``.

The agent contract. Every turn calls ``predict_fn(messages, **context)``: ``messages`` is a new list
of ``{"role": "user" | "assistant", "content": str}`` dicts, oldest first, ending with the user's
newest message (the agent may keep or mutate it: the next turn gets a fresh copy). A parameter named
``session_id`` also receives the conversation's id (for an agent that keeps its own memory). It
returns the assistant's reply: a ``str``; a dict with a ``"content"`` string (e.g. the message
``{"role": "assistant", "content": ...}``); or an OpenAI ``ChatCompletion`` (an Anthropic ``Message``
works too). Sync or async. Anything else fails the turn with an error naming these shapes.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._errors import LlmopsError, did_you_mean
from ._records import Record, _cell, _read_file, assign_record_ids
from ._util import is_missing

SCRIPTED_KEYS = ("turns",)
SIMULATED_KEYS = ("goal", "persona", "max_turns", "first_message")
SHARED_KEYS = ("expectations", "context", "record_id")
KEYS = (*SCRIPTED_KEYS, *SIMULATED_KEYS, *SHARED_KEYS)
_EXAMPLE = ("[{'turns': ['Hi', 'I need to change my booking']}, "
            "{'goal': 'Get a refund for order 1234', 'persona': 'A terse customer', 'max_turns': 6}]")


class AgentReplyError(LlmopsError, TypeError):
    """The agent returned something that is not an assistant reply."""


def conversation_rows(data: Any) -> list[dict[str, Any]] | None:
    """The rows of ``data`` when it holds conversations (a row with ``turns`` or ``goal``), else None."""
    if hasattr(data, "records") and hasattr(data, "version"):  # a Dataset: rows of inputs, not conversations
        return None
    if isinstance(data, (str, Path)):
        path = Path(data)
        if path.suffix.lower() not in (".jsonl", ".ndjson", ".json") or not path.is_file():
            return None
        rows: list[Any] = _read_file(path)
    elif hasattr(data, "to_dict") and hasattr(data, "columns"):
        if not {"turns", "goal"} & {str(c) for c in data.columns}:
            return None
        rows = [{k: v for k, v in row.items() if not _absent(v)} for row in data.to_dict("records")]
    elif isinstance(data, (list, tuple)):
        rows = list(data)
    else:
        return None
    if not any(isinstance(r, dict) and ("turns" in r or "goal" in r) for r in rows):
        return None
    return rows


def load_conversations(rows: list[Any], default_max_turns: int) -> list[Record]:
    """Check every row (errors name the row and the fix) and make it a Record: ``inputs`` holds the
    conversation's spec — ``{"turns": [...]}`` or ``{"goal", "persona", "max_turns", ...}`` — and
    ``context``; ``expectations`` stays as given."""
    if not rows:
        raise ValueError(f"The conversation data has no rows; give a list like {_EXAMPLE}.")
    records = []
    for position, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TypeError(f"Conversation {position} is a {type(row).__name__}, not a dict: write each as "
                            f"{_EXAMPLE}.")
        records.append(_record(row, position, default_max_turns))
    assign_record_ids(records)
    return records


def _record(row: dict[str, Any], position: int, default_max_turns: int) -> Record:
    where = f"Conversation {position}"
    if "inputs" in row:
        raise ValueError(f"{where} has 'inputs' among conversations: a conversation row holds 'turns' (scripted) "
                         f"or 'goal' (simulated), e.g. {_EXAMPLE}. Evaluate single-turn rows in another call.")
    unknown = [k for k in row if k not in KEYS]
    if unknown:
        raise ValueError(f"{where} has unknown keys {unknown}: a conversation holds {', '.join(KEYS)}."
                         f"{did_you_mean(unknown[0], KEYS)}")
    scripted, simulated = "turns" in row, "goal" in row
    if scripted == simulated:
        both = "both 'turns' and 'goal'" if scripted else "neither 'turns' nor 'goal'"
        raise ValueError(f"{where} has {both}: give 'turns' (the user's messages, scripted) or 'goal' (for a "
                         f"simulated user), e.g. {_EXAMPLE}.")
    spec: dict[str, Any] = {}
    if scripted:
        extra = [k for k in SIMULATED_KEYS if k in row]
        if extra:
            raise ValueError(f"{where} is scripted ('turns') but has {extra}, which drive a simulated user: drop "
                             "them, or replace 'turns' by a 'goal'.")
        spec["turns"] = _turns(_cell(row["turns"]), where)
    else:
        spec.update(_simulated(row, where, default_max_turns))
    context = _cell(row.get("context"))
    if context is not None:
        if not isinstance(context, dict) or not all(isinstance(k, str) for k in context):
            raise TypeError(f"{where}'s context is {type(context).__name__}; give a dict of keyword arguments for "
                            "predict_fn, e.g. {'user_id': 'u-1'}.")
        spec["context"] = context
    expectations = _cell(row.get("expectations"))
    record_id = row.get("record_id")
    return Record(inputs=spec, expectations=expectations, record_id=str(record_id) if record_id is not None else "")


def _turns(turns: Any, where: str) -> list[Any]:
    if isinstance(turns, (str, bytes)) or not isinstance(turns, (list, tuple)) or not turns:
        raise TypeError(f"{where}'s turns is {turns!r}; give a non-empty list of the user's messages, e.g. "
                        "['Hi', 'I need to change my booking'].")
    for number, turn in enumerate(turns, 1):
        if isinstance(turn, str):
            continue
        if not isinstance(turn, dict) or not isinstance(turn.get("content"), str):
            raise TypeError(f"{where}'s turn {number} is {turn!r}; a turn is the user's message as a string, or "
                            "{'content': '...', 'expectations': {...}}.")
        unknown = sorted(set(turn) - {"role", "content", "expectations"})
        if unknown or turn.get("role", "user") != "user":
            raise ValueError(f"{where}'s turn {number} has {unknown or {'role': turn.get('role')}}: a scripted turn "
                             "is the user's message, {'content': '...'} with optional 'expectations' (the "
                             "assistant's replies come from predict_fn).")
    return list(turns)


def _simulated(row: dict[str, Any], where: str, default_max_turns: int) -> dict[str, Any]:
    goal, persona = row.get("goal"), row.get("persona")
    if not isinstance(goal, str) or not goal.strip():
        raise TypeError(f"{where}'s goal is {goal!r}; give what the simulated user wants to achieve, e.g. "
                        "'Get a refund for order 1234'.")
    spec: dict[str, Any] = {"goal": goal}
    if persona is not None:
        if not isinstance(persona, str):
            raise TypeError(f"{where}'s persona is {type(persona).__name__}; describe the user in a string, e.g. "
                            "'An impatient customer who writes short messages'.")
        spec["persona"] = persona
    max_turns = row.get("max_turns", default_max_turns)
    if hasattr(max_turns, "item"):
        max_turns = max_turns.item()  # a numpy integer from a DataFrame
    if isinstance(max_turns, float) and max_turns.is_integer():
        max_turns = int(max_turns)
    if not isinstance(max_turns, int) or isinstance(max_turns, bool) or max_turns < 1:
        raise ValueError(f"{where}'s max_turns is {max_turns!r}; give a positive integer: the most agent replies "
                         "the conversation may take.")
    spec["max_turns"] = max_turns
    first = row.get("first_message")
    if first is not None:
        if not isinstance(first, str) or not first.strip():
            raise TypeError(f"{where}'s first_message is {first!r}; give the user's opening message as a string, "
                            "or leave it out to let the simulated user write it.")
        spec["first_message"] = first
    return spec


def _absent(value: Any) -> bool:
    """A DataFrame cell of a column this row does not use (NaN / None)."""
    return not isinstance(value, (list, tuple, dict)) and not hasattr(value, "tolist") and is_missing(value)


def user_turns(spec: dict[str, Any]) -> list[tuple[str, Any]]:
    """A scripted conversation's turns as ``(message, expectations)``."""
    return [(t, None) if isinstance(t, str) else (t["content"], t.get("expectations")) for t in spec["turns"]]


# -- the agent ------------------------------------------------------------------------------------
def agent_caller(predict_fn: Any, records: list[Record]) -> Callable[[list[dict[str, Any]], str, dict[str, Any]], Any]:
    """``call(messages, session_id, context)`` for ``predict_fn``, checked once against the rows' context
    (a TypeError naming the fix when predict_fn cannot be called as ``predict_fn(messages, **context)``)."""
    if predict_fn is None:
        raise ValueError("Evaluating conversations needs predict_fn=your_agent: a function of the conversation "
                         "so far (OpenAI-style messages) returning the assistant's reply.")
    if not callable(predict_fn):
        raise TypeError(f"predict_fn must be a function (sync or async), got {type(predict_fn).__name__}.")
    try:
        signature: inspect.Signature | None = inspect.signature(predict_fn)
    except (TypeError, ValueError):
        signature = None
    wants_session = signature is not None and "session_id" in signature.parameters
    if signature is not None:
        for record in records:
            context = record.inputs.get("context") or {}
            extra = {"session_id": "s"} if wants_session else {}
            try:
                signature.bind([], **context, **extra)
            except TypeError:
                shown = f" and keywords {sorted(context)} (the row's context)" if context else ""
                raise TypeError(f"predict_fn{signature} cannot be called as predict_fn(messages){shown}: over "
                                "conversations evaluate() passes one positional argument, the conversation so far "
                                "as [{'role': 'user', 'content': '...'}, ...]. Define it as "
                                "def agent(messages): ... returning the assistant's reply.") from None

    def call(messages: list[dict[str, Any]], session_id: str, context: dict[str, Any]) -> Any:
        if wants_session:
            return predict_fn(messages, session_id=session_id, **context)
        return predict_fn(messages, **context)

    return call


def reply_text(reply: Any) -> str:
    """The assistant's words in what the agent returned, or raise :class:`AgentReplyError` naming the shapes.

    >>> reply_text({"role": "assistant", "content": "Hello!"})
    'Hello!'
    """
    if isinstance(reply, str):
        return reply
    value = reply
    if hasattr(value, "model_dump") and not isinstance(value, dict):  # an SDK response object
        value = value.model_dump(mode="json", warnings=False)
    if isinstance(value, dict):
        choices = value.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            message = choices[0].get("message") or {}
            if isinstance(message.get("content"), str):
                return str(message["content"])
            raise AgentReplyError("predict_fn returned a ChatCompletion whose message has no text content (tool "
                                  "calls?): run the tools inside predict_fn and return the final answer.")
        content = value.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list) and content and all(isinstance(b, dict) for b in content):
            texts = [str(b.get("text")) for b in content if b.get("type", "text") == "text" and b.get("text")]
            if texts:
                return "".join(texts)  # an Anthropic Message
    raise AgentReplyError(f"predict_fn returned {type(reply).__name__} {str(reply)[:120]!r}; over conversations it "
                          "must return the assistant's reply: a str, a dict with a 'content' string (e.g. "
                          "{'role': 'assistant', 'content': '...'}), or an OpenAI ChatCompletion.")
