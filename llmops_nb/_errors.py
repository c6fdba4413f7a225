"""The exception root and the one "did you mean" of the package.

Every error llmops_nb raises on purpose derives from :class:`LlmopsError`, so
``except llmops_nb.LlmopsError`` catches ours and nothing else. Errors that
also are a built-in kind (a bad argument is a ``ValueError``) derive from
both, so existing ``except ValueError`` code keeps working::

    LlmopsError
    ├── StoreError(RuntimeError)             the store cannot be used (store/_errors.py)
    │   ├── StoreLockedError                 another process held the file too long
    │   ├── StoreFullError                   the disk is full
    │   ├── StorePermissionError             the file or its folder is not writable
    │   ├── StoreCorruptError                the file is damaged, or not a DuckDB file
    │   ├── StoreVersionError                written by a DuckDB this one cannot read
    │   ├── StoreReplacedError               a store object used after configure() moved on
    │   ├── StoreEncryptionError             no secure crypto here (DuckDB's httpfs) for an encrypted store
    │   │   └── StoreKeyError                the key is missing, wrong, unreadable, or set for a plain file
    │   └── CopyRefusedError                 a copy's SRC and DST hold different versions (store/_copy_tables.py)
    ├── PromptNotFoundError(LookupError)     no prompt, version or alias of that name (prompts/_errors.py)
    ├── PromptFormatError(ValueError)        format() with missing or unexpected variables
    ├── ModelCallError(RuntimeError)         a model call failed for good (models/_model.py)
    ├── MissingExpectationError(ValueError)  a row lacks the value a scorer compares with (evals/_text.py)
    ├── MissingInputError(ValueError)        a row lacks what a judge's prompt needs (evals/_judge.py)
    ├── JudgeParseError(ValueError)          no verdict of the expected type in a reply (evals/_parse.py)
    ├── SimulatorError(ValueError)           a simulated user's reply is neither a message nor a stop
    │                                        (evals/_simulated_user.py)
    ├── AgentReplyError(TypeError)           an agent's reply in a conversation is not text
    │                                        (evals/_conversation_data.py)
    ├── UnknownSessionError(LookupError)     a stored conversation to evaluate is not in the store
    │                                        (evals/_conversation_stored_read.py)
    ├── LocalModelError(RuntimeError)        the offline model cannot run (local_model/_install.py)
    ├── PiiPolicyError(ValueError)           a PII policy that cannot be applied as written (pii/_errors.py)
    ├── PiiBlockedError                      an SDK request stopped: its input holds PII the policy blocks
    ├── GuardrailError                       a guardrail blocked a call's input or output (guardrails/_verdict.py)
    ├── JudgeFailedError(RuntimeError)       a guardrail's judge could not give a verdict (guardrails/_judge.py)
    ├── GatewayError                         the gateway answers with it: HTTP status + error body (gateway/_errors.py)
    │   ├── GatewayConfigError(ValueError)   a gateway config that cannot be used: the entry, its line, the fix
    │   ├── GatewayAuthError                 401: no key, or one the gateway does not know
    │   ├── GatewayForbiddenError            403: the key may not do this (model not allowed, revoked)
    │   ├── GatewayRequestTooLarge           413: the body is over general_settings.max_request_bytes
    │   ├── BudgetExceededError              429: a budget would be passed in its window
    │   ├── GatewayRateLimitError            429: an rpm or tpm limit is reached (Retry-After)
    │   ├── NoDeploymentError                503: every deployment of the group failed or is cooling down
    │   ├── UnknownModelError(LookupError)   404: no model_name like that
    │   └── UpstreamError                    the upstream's final error, its status and message passed on
    └── RpcError                             a view's request refused, told to the view (widgets/_rpc.py)

Outside the root, on purpose or for now:

- ``EvaluationInterrupted(KeyboardInterrupt)``: an interrupt must not be caught by
  ``except Exception``, which an ``LlmopsError`` would be (evals/_evaluate.py).
- otel/'s ``BadSpanError(ValueError)``, ``MalformedError(ValueError)`` and
  ``ExportError(RuntimeError)``: still to join the root where they are defined
  (``MalformedError`` reaches the callers of ``import_traces``).
- Magics raise IPython's ``UsageError`` (shown without a traceback); plain bad arguments
  elsewhere raise the plain built-in (``ValueError``, ``TypeError``) naming the fix.
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
    # Cutoff 0.5, not difflib's 0.6: one wrong letter in a two-letter name ('qb' for 'qa') still gets a hint.
    close = difflib.get_close_matches(str(name), sorted(choices), n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""
