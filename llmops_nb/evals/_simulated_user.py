"""``SimulatedUser``: an LLM that plays the user of a conversation — a persona with a goal, within a turn limit.

Before each turn it gets the persona, the goal and the conversation so far, and answers with one JSON
object: ``{"message": "..."}`` to say something next, or ``{"stop": true, "reason": "..."}`` once the
goal is met (or clearly cannot be). Whatever the model writes goes through :func:`parse_user_turn`: a
JSON object anywhere in the reply (fenced, in prose), else a bare stop word (``STOP``, ``DONE``,
``GOAL_MET``), else the plain text as the message. A reply that is empty, is broken JSON, or is JSON
with neither a message nor a stop raises :class:`SimulatorError` with the raw reply; the evaluation
records it as the conversation's error and goes on.

Its model calls are not the agent's: the evaluation runs them in a trace of their own per
conversation (tagged ``llmops_nb.eval_run`` and ``llmops_nb.simulated_user``, without a session), so
they appear neither among the conversation's turns nor in its tokens and cost (see ``_conversation``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .._errors import LlmopsError
from ._judge import ModelChoice
from ._parse import _json_objects
from ._text import render_value

DEFAULT_MAX_TURNS = 6
DEFAULT_PERSONA = "A typical user of this assistant: polite, direct, and not an expert in its domain."
_MAX_RAW = 2000
_MESSAGE_KEYS = ("message", "content", "user_message", "next_message", "text", "reply", "utterance")
_STOP_KEYS = ("stop", "done", "goal_met", "finished", "end")
_STOP_WORDS = frozenset({"stop", "done", "goalmet", "goalachieved", "end", "endconversation", "finished"})
_SPEAKER = re.compile(r"^\s*\**(?:user|me|customer)\**\s*:\s*", re.IGNORECASE)
_ASSISTANT_LINE = re.compile(r"\n\s*\**assistant\**\s*:", re.IGNORECASE)
_MESSAGE_PAIR = re.compile(rf'"(?:{"|".join(_MESSAGE_KEYS)})"\s*:\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)
_STOP_PAIR = re.compile(rf'"(?:{"|".join(_STOP_KEYS)})"\s*:\s*(?:true|"(?:true|yes)")', re.IGNORECASE)

INSTRUCTIONS = """You play a user of an AI assistant, to test the assistant. Stay in character for the whole
conversation.

Who you are:
{{ persona }}

Your goal in this conversation:
{{ goal }}

You get the conversation so far. Answer with one JSON object and nothing else:
{"message": "<your next message to the assistant>"}
to say something, or, once your goal has been met (or the assistant has clearly shown that it cannot meet it):
{"stop": true, "reason": "<why you stop>"}

Write only what the user says: one short, natural message in your persona's voice, giving details the way
a real user would (when they are needed, not all at once). Never write the assistant's part."""


class SimulatorError(LlmopsError, ValueError):
    """The simulated user's reply could not be read as a next message or a stop."""


@dataclass(frozen=True)
class UserTurn:
    """What the simulated user decided: a message to send, or to stop (with its reason)."""

    message: str | None = None
    stop: bool = False
    reason: str | None = None


class SimulatedUser:
    """An LLM playing the user: given each conversation's ``persona`` and ``goal``, it writes the user's
    messages until it says the goal is met, or the conversation reaches ``max_turns`` agent replies.

    ``model``: a model URI or ``Model`` (default: the judges' default, ``$LLMOPS_NB_JUDGE_MODEL`` or
    ``openai:/gpt-4.1-mini``). ``max_turns``: the limit for rows that give none. ``instructions``: your
    own system prompt, using ``{{ persona }}`` and ``{{ goal }}`` (read the default on
    ``.instructions``). ``temperature``, ``max_tokens``, ``json_mode`` go to the model.

    >>> import llmops_nb
    >>> user = llmops_nb.evals.SimulatedUser(model="openai:/gpt-4o-mini", max_turns=6)
    >>> df = llmops_nb.evaluate([{"goal": "Book a table for two on Friday", "persona": "A busy parent"}],
    ...                         predict_fn=my_agent, scorers=[llmops_nb.scorers.goal_completion()],
    ...                         simulator=user)  # doctest: +SKIP
    """

    def __init__(self, model: Any = None, *, max_turns: int = DEFAULT_MAX_TURNS, instructions: str | None = None,
                 temperature: float | None = 0.7, max_tokens: int = 300, json_mode: bool = False) -> None:
        if not isinstance(max_turns, int) or isinstance(max_turns, bool) or max_turns < 1:
            raise ValueError(f"max_turns must be a positive integer (agent replies per conversation), got "
                             f"{max_turns!r}.")
        template = INSTRUCTIONS if instructions is None else instructions
        if not isinstance(template, str) or "{{ goal }}" not in template.replace("{{goal}}", "{{ goal }}"):
            raise ValueError("SimulatedUser instructions must include {{ goal }} (and usually {{ persona }}): the "
                             "simulated user has to know what it wants.")
        self.instructions, self.max_turns = template, max_turns
        self.temperature, self.max_tokens, self.json_mode = temperature, max_tokens, json_mode
        self._model = ModelChoice(model)
        self.model_uri = self._model.uri

    @property
    def model(self) -> Any:
        """The :class:`~llmops_nb.models.Model` it calls (resolved on first use)."""
        return self._model.get()

    def render(self, *, goal: str, persona: str | None, messages: list[dict[str, Any]], turn: int,
               max_turns: int) -> list[dict[str, str]]:
        """The messages sent to the model before user turn ``turn`` (1-based)."""
        system = re.sub(r"\{\{\s*persona\s*\}\}", lambda _: persona or DEFAULT_PERSONA, self.instructions)
        system = re.sub(r"\{\{\s*goal\s*\}\}", lambda _: goal, system)
        if not messages:
            prompt = ("The conversation has not started. Write your first message to the assistant, as JSON: "
                      '{"message": "..."}')
        else:
            shown = "\n\n".join(f"{m['role'].upper()}: {render_value(m['content'], 4000)}" for m in messages)
            prompt = (f"The conversation so far:\n\n{shown}\n\nThis would be your message {turn} of at most "
                      f"{max_turns}. Write it, or stop if your goal has been met.")
        return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]

    def next_turn(self, *, goal: str, persona: str | None, messages: list[dict[str, Any]], turn: int,
                  max_turns: int) -> UserTurn:
        """Ask the model for the user's next message (or a stop); SimulatorError when unreadable."""
        params: dict[str, Any] = {"max_tokens": self.max_tokens}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        if self.json_mode and self.model.spec.sdk == "openai":
            params["response_format"] = {"type": "json_object"}
        reply = self.model.chat(self.render(goal=goal, persona=persona, messages=messages, turn=turn,
                                            max_turns=max_turns), **params)
        return parse_user_turn(reply.text)

    def describe(self) -> dict[str, Any]:
        return {"model": self.model_uri, "max_turns": self.max_turns, "temperature": self.temperature}

    def __repr__(self) -> str:
        return f"<SimulatedUser model={self.model_uri!r} max_turns={self.max_turns}>"


def parse_user_turn(text: str | None) -> UserTurn:
    """The simulated user's decision in its reply (see the module doc), or raise :class:`SimulatorError`.

    >>> parse_user_turn('{"message": "Hi, I need a refund."}')
    UserTurn(message='Hi, I need a refund.', stop=False, reason=None)
    >>> parse_user_turn('```json\\n{"stop": true, "reason": "refund confirmed"}\\n```')
    UserTurn(message=None, stop=True, reason='refund confirmed')
    """
    reply = (text or "").strip()
    if not reply:
        raise SimulatorError("the simulated user's reply was empty")
    for candidate in _json_objects(reply):
        found = _from_json(candidate)
        if found is not None:
            return found
    if re.sub(r"[^a-z]", "", reply.lower()) in _STOP_WORDS:
        return UserTurn(stop=True, reason=None)
    if reply.startswith(("{", "[", "```")):
        found = _from_pairs(reply)
        if found is not None:
            return found
        raise SimulatorError("could not read a message or a stop from the simulated user's reply (JSON cut off, "
                             f"broken, or with neither 'message' nor 'stop'); raw reply: {reply[:_MAX_RAW]!r}")
    message = _ASSISTANT_LINE.split(_SPEAKER.sub("", reply, count=1), maxsplit=1)[0].strip()
    message = message[1:-1].strip() if len(message) > 1 and message[0] == message[-1] and message[0] in "\"'" \
        else message
    if not message:
        raise SimulatorError(f"the simulated user's reply holds no message; raw reply: {reply[:_MAX_RAW]!r}")
    return UserTurn(message=message)


def _from_json(candidate: dict[str, Any]) -> UserTurn | None:
    lowered = {str(k).lower(): v for k, v in candidate.items()}
    reason = lowered.get("reason") or lowered.get("rationale")
    reason = str(reason) if reason else None
    if any(_truthy(lowered.get(k)) for k in _STOP_KEYS):
        return UserTurn(stop=True, reason=reason)
    for key in _MESSAGE_KEYS:
        value = lowered.get(key)
        if isinstance(value, str) and value.strip():
            return UserTurn(message=value.strip())
    return None


def _from_pairs(reply: str) -> UserTurn | None:
    """Broken JSON (no closing brace, a trailing comma) whose stop flag or message string is whole."""
    if _STOP_PAIR.search(reply):
        return UserTurn(stop=True)
    match = _MESSAGE_PAIR.search(reply)
    if match is None:
        return None  # a message cut off inside its string is not the user's message
    try:
        message = str(json.loads(f'"{match.group(1)}"')).strip()
    except ValueError:  # an escape JSON does not know
        message = match.group(1).strip()
    return UserTurn(message=message) if message else None


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("true", "yes", "1")
