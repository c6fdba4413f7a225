"""Conversation-level LLM judges: goal completion, user frustration, knowledge retention, turn efficiency.

Each reads the whole transcript once per conversation (``{{ conversation }}``: every message, turn by
turn) and is built on :class:`~._judge.Judge` — the same prompts-on-``.instructions``, ``instructions=``
to replace them, the robust reply parsing and the error cell with the raw reply. Template variables
besides ``{{ inputs }}``, ``{{ outputs }}``, ``{{ expectations }}``, ``{{ trace }}``:
``{{ conversation }}``, ``{{ goal }}`` (``expectations["goal"]``, else a simulated row's goal, else a
note to infer it from the user's messages) and ``{{ persona }}``. :func:`make_conversation_judge`
makes your own. Used on a row that is not a conversation, they give an error cell, not a guess.
"""

from __future__ import annotations

from typing import Any

from ._judge import Extra, Judge, MissingInputError
from ._text import render_value

_PER_MESSAGE = 4000

GOAL_COMPLETION_PROMPT = """Decide whether the assistant fully achieved the user's goal by the end of the conversation.

The user's goal:
{{ goal }}

The conversation:
{{ conversation }}

Achieved means the user got what they came for: everything the goal asks for was answered or done, correctly
as far as the conversation shows, by the end. A goal left half done, a question left unanswered, a promise to
do it later, or a user who gave up is not achieved."""

USER_FRUSTRATION_PROMPT = """Decide whether the user became frustrated during the conversation and, if so, whether that
was resolved by its end.

The conversation:
{{ conversation }}

Signs of frustration: repeating a request, complaining that the assistant did not understand or listen, curt
or irritated messages, asking for a human, giving up. Answer "none" if the user never showed frustration,
"resolved" if they did but the assistant recovered and the user ended satisfied, and "unresolved" if the user
was still frustrated at the end."""

KNOWLEDGE_RETENTION_PROMPT = """Decide whether the assistant retained and correctly used what the user told it earlier
in the conversation.

The conversation:
{{ conversation }}

Retained means the assistant's later replies stay consistent with the facts, preferences and constraints the
user gave in earlier turns (names, numbers, dates, choices): it does not ask again for something already given,
forget it or contradict it. If no later reply needed anything the user said before, answer "yes"."""

TURN_EFFICIENCY_PROMPT = """Decide whether the assistant reached the user's goal without wasting turns.

The user's goal:
{{ goal }}

The conversation:
{{ conversation }}

Efficient means no turn was spent on asking for something the user had already said, a needless
clarification, a repeated or off-topic reply, or fixing the assistant's own mistake: the conversation took
about as many turns as the goal needs. A conversation that did not reach the goal is not efficient."""


class ConversationJudge(Judge):
    """A judge of a whole conversation, run once per conversation by ``evaluate()`` over conversations."""

    conversation_level = True


def render_conversation(arguments: dict[str, Any]) -> str:
    """The transcript as prompt text: ``[turn N] User: ...`` / ``[turn N] Assistant: ...`` lines."""
    from ._conversation_scorers import conversation_of

    messages = conversation_of(arguments.get("outputs"))
    if not messages:
        raise MissingInputError("no conversation to judge: use this judge in evaluate() over conversations (rows "
                                "with 'turns' or 'goal').")
    lines, turn = [], 0
    for message in messages:
        role = str(message.get("role", "user"))
        turn += role == "user"
        lines.append(f"[turn {max(turn, 1)}] {role.capitalize()}: {render_value(message.get('content'), _PER_MESSAGE)}")
    return "\n".join(lines)


def _field(arguments: dict[str, Any], key: str) -> Any:
    for source in (arguments.get("expectations"), arguments.get("inputs")):
        if isinstance(source, dict) and source.get(key):
            return source[key]
    return None


def render_goal(arguments: dict[str, Any]) -> str:
    goal = _field(arguments, "goal")
    return render_value(goal) if goal else "(not stated: take what the user asks for in the conversation as the goal)"


def render_persona(arguments: dict[str, Any]) -> str:
    persona = _field(arguments, "persona")
    return render_value(persona) if persona else "(not stated)"


EXTRAS: dict[str, Extra] = {
    "conversation": (frozenset({"outputs"}), render_conversation),
    "goal": (frozenset({"inputs", "expectations"}), render_goal),
    "persona": (frozenset({"inputs", "expectations"}), render_persona),
}


def make_conversation_judge(name: str, instructions: str, model: Any = None, *, value_type: Any = bool,
                            scale: tuple[float, float] | None = None, choices: Any = None,
                            threshold: float | None = None, **options: Any) -> ConversationJudge:
    """An LLM judge of whole conversations, from instructions using ``{{ conversation }}`` (and
    ``{{ goal }}``, ``{{ persona }}``, ``{{ expectations }}`` …); otherwise as :func:`make_judge`.

    >>> import llmops_nb
    >>> polite = llmops_nb.scorers.make_conversation_judge(
    ...     "stays_polite", "Is every reply polite?\\n{{ conversation }}", model="openai:/gpt-4.1-mini")
    >>> polite.conversation_level
    True
    """
    allowed = {"system_prompt", "temperature", "max_tokens", "json_mode"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"make_conversation_judge() got unknown options {unknown}; it accepts {sorted(allowed)} "
                        "besides name, instructions, model, value_type, scale, choices and threshold.")
    return ConversationJudge(name, instructions, model, value_type=value_type, scale=scale, choices=choices,
                             threshold=threshold, extras=EXTRAS, **options)


def goal_completion(model: Any = None, *, instructions: str | None = None, name: str = "goal_completion",
                    **options: Any) -> ConversationJudge:
    """Did the conversation achieve the user's goal (``expectations["goal"]``, a simulated row's ``goal``,
    else what the user asked for)? Yes/no.

    >>> import llmops_nb
    >>> llmops_nb.scorers.goal_completion().instructions.splitlines()[0]
    "Decide whether the assistant fully achieved the user's goal by the end of the conversation."
    """
    return make_conversation_judge(name, instructions or GOAL_COMPLETION_PROMPT, model, **options)


class _FrustrationJudge(ConversationJudge):
    def passes(self, value: Any) -> bool | None:
        return None if value is None else value != "unresolved"


def user_frustration(model: Any = None, *, instructions: str | None = None, name: str = "user_frustration",
                     **options: Any) -> ConversationJudge:
    """Was the user frustrated, and was it resolved? ``"none"``, ``"resolved"`` (both pass) or
    ``"unresolved"`` (fails).

    >>> import llmops_nb
    >>> llmops_nb.scorers.user_frustration().passes("unresolved")
    False
    """
    allowed = {"system_prompt", "temperature", "max_tokens", "json_mode"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"user_frustration() got unknown options {unknown}; it accepts {sorted(allowed)}.")
    return _FrustrationJudge(name, instructions or USER_FRUSTRATION_PROMPT, model,
                             choices=("none", "resolved", "unresolved"), extras=EXTRAS, **options)


def knowledge_retention(model: Any = None, *, instructions: str | None = None, name: str = "knowledge_retention",
                        **options: Any) -> ConversationJudge:
    """Did the assistant remember and use what the user said in earlier turns? Yes/no.

    >>> import llmops_nb
    >>> llmops_nb.scorers.knowledge_retention().needs
    frozenset({'outputs'})
    """
    return make_conversation_judge(name, instructions or KNOWLEDGE_RETENTION_PROMPT, model, **options)


def turn_efficiency(model: Any = None, *, instructions: str | None = None, name: str = "turn_efficiency",
                    **options: Any) -> ConversationJudge:
    """Did the assistant reach the goal without wasted turns (re-asking, needless clarifications,
    repeats)? Yes/no.

    >>> import llmops_nb
    >>> llmops_nb.scorers.turn_efficiency(model="local:/smollm2").name
    'turn_efficiency'
    """
    return make_conversation_judge(name, instructions or TURN_EFFICIENCY_PROMPT, model, **options)
