"""The prompt registry: immutable versions, aliases and rollback, diffs, comparisons — in the store.

>>> from llmops_nb import prompts
>>> v1 = prompts.register("qa", "Answer briefly: {{question}}")             # doctest: +SKIP
>>> v2 = prompts.register("qa", [{"role": "system", "content": "Be brief."},
...                              {"role": "user", "content": "{{question}}"}],
...                       commit_message="chat form")                      # doctest: +SKIP
>>> prompts.set_alias("qa", "production", 2)                               # doctest: +SKIP
>>> prompts.load("prompts:/qa@production").format(question="Why?")         # doctest: +SKIP
[{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Why?'}]
>>> prompts.rollback("qa", "production")                                   # doctest: +SKIP

Names follow MLflow's prompt registry (``register_prompt``, ``load_prompt``, ``prompts:/name@alias``).
Loading or formatting a version inside a trace records it on the current span
(``llmops_nb.prompt.name``/``.version``/``.uri``). Errors: see ``_errors``.
In a notebook, ``%%llm_prompt NAME`` registers a cell and shows what changed.
"""

from __future__ import annotations

from ._compare import PromptComparison, compare
from ._errors import PromptFormatError, PromptNotFoundError
from ._frames import alias_history, search, versions
from ._frames import list_prompts as list  # reads as prompts.list(); shadows the builtin only here
from ._prompt_diff import PromptDiff, diff
from ._registry import delete_alias, load, register, rollback, set_alias
from ._version import PromptVersion

__all__ = [
    "PromptComparison",
    "PromptDiff",
    "PromptFormatError",
    "PromptNotFoundError",
    "PromptVersion",
    "alias_history",
    "compare",
    "delete_alias",
    "diff",
    "list",
    "load",
    "register",
    "rollback",
    "search",
    "set_alias",
    "versions",
]
