"""The prompt registry's errors.

Bad input raises the built-in type a Python user expects, each message naming the fix::

    LookupError
     └── PromptNotFoundError        unknown prompt name (with "did you mean"), version or alias
    ValueError
     ├── PromptFormatError          format() with missing or unexpected variables
     └── (plain ValueError)         malformed name, URI or alias
    TypeError                       a template that is not a string or a list of {role, content} strings
"""

from __future__ import annotations


class PromptNotFoundError(LookupError):
    """No prompt, version or alias of that name in the store."""


class PromptFormatError(ValueError):
    """``format()`` was called with missing or unexpected variables."""
