"""Built-in scorers, as ``llmops_nb.scorers``: deterministic checks and LLM judges.

>>> from llmops_nb.evals import scorers
>>> checks = [scorers.exact_match(), scorers.contains("Paris"), scorers.json_valid()]
>>> judges = [scorers.correctness(model="local:/smollm2"), scorers.guidelines(["Be brief."])]

Deterministic: ``exact_match``, ``contains``, ``regex``, ``json_valid``,
``json_schema``, ``length``, ``edit_distance``, ``rouge_l``, ``numeric_match``.
LLM judges (yes/no; prompt on ``.instructions``, replace it with
``instructions=``): ``correctness``, ``relevance_to_query``, ``groundedness``,
``safety``, ``guidelines``, ``tool_call_correctness``. Agent trajectories
(read from the row's trace): ``tool_sequence``, ``tool_arguments``,
``tool_errors``, ``redundant_calls``, ``step_budget``. Conversations (once per
conversation in ``evaluate()`` over conversations; any other scorer there runs
on every turn): ``goal_completion``, ``user_frustration``,
``knowledge_retention``, ``turn_efficiency``; your own with
``make_conversation_judge`` and ``@conversation_scorer``. Your own:
``@llmops_nb.scorer`` and ``llmops_nb.make_judge``.
"""

from ._conversation_judges import (
    goal_completion,
    knowledge_retention,
    make_conversation_judge,
    turn_efficiency,
    user_frustration,
)
from ._conversation_scorers import conversation_scorer
from ._deterministic import (
    contains,
    edit_distance,
    exact_match,
    json_schema,
    json_valid,
    length,
    numeric_match,
    regex,
    rouge_l,
)
from ._judge import Judge, make_judge
from ._judges import correctness, groundedness, guidelines, relevance_to_query, safety, tool_call_correctness
from ._scorer import Score, Scorer, scorer
from ._trajectory import tool_arguments, tool_sequence
from ._trajectory_steps import redundant_calls, step_budget, tool_errors

__all__ = [
    "Judge",
    "Score",
    "Scorer",
    "contains",
    "conversation_scorer",
    "correctness",
    "edit_distance",
    "exact_match",
    "goal_completion",
    "groundedness",
    "guidelines",
    "json_schema",
    "json_valid",
    "knowledge_retention",
    "length",
    "make_conversation_judge",
    "make_judge",
    "numeric_match",
    "redundant_calls",
    "regex",
    "relevance_to_query",
    "rouge_l",
    "safety",
    "scorer",
    "step_budget",
    "tool_arguments",
    "tool_call_correctness",
    "tool_errors",
    "tool_sequence",
    "turn_efficiency",
    "user_frustration",
]
