"""The exception root and the one "did you mean" of the package.

Every error llmops_nb raises on purpose derives from :class:`LlmopsError`, so
``except llmops_nb.LlmopsError`` catches ours and nothing else. Errors that
also are a built-in kind (a bad argument is a ``ValueError``) derive from
both, so existing ``except ValueError`` code keeps working::

    LlmopsError
    ├── StoreError                      the store cannot be used (store/_errors.py)
    │   ├── StoreLockedError            another process held the file too long
    │   ├── StoreFullError              the disk is full
    │   ├── StorePermissionError        the file or its folder is not writable
    │   ├── StoreCorruptError           the file is damaged, or not a DuckDB file
    │   └── StoreVersionError           written by a DuckDB this one cannot read
    ├── LocalModelError                 the offline model cannot run
    └── ... (each package's own, listed in its module docstring)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LlmopsError(Exception):
    """Base of every error llmops_nb raises on purpose."""


def did_you_mean(name: object, choices: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest choice, or ``""`` — to append to an error message.

    >>> did_you_mean("flush_intervall", ["flush_interval", "db"])
    " Did you mean 'flush_interval'?"
    """
    close = difflib.get_close_matches(str(name), sorted(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""
