"""The prompt registry's errors.

Bad input raises the built-in type a Python user expects, each message naming the fix; the
registry's own two also derive from :class:`~llmops_nb.LlmopsError` (the tree in ``_errors.py``)::

    LookupError
     └── PromptNotFoundError        unknown prompt name (with "did you mean"), version or alias
    ValueError
     ├── PromptFormatError          format() with missing or unexpected variables
     └── (plain ValueError)         malformed name, URI or alias
    TypeError                       a template that is not a string or a list of {role, content} strings
"""

from __future__ import annotations

from .._errors import LlmopsError


class PromptNotFoundError(LlmopsError, LookupError):
    """No prompt, version or alias of that name in the store."""


class PromptFormatError(LlmopsError, ValueError):
    """``format()`` was called with missing or unexpected variables."""
