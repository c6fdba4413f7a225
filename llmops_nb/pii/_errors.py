"""The PII errors, in a module of their own: the SDK wrappers catch them without importing the detector."""

from __future__ import annotations

from .._errors import LlmopsError

__all__ = ["PiiBlockedError", "PiiPolicyError"]


class PiiPolicyError(LlmopsError, ValueError):
    """A PII policy that cannot be applied as written; the message names the entry and the fix."""


class PiiBlockedError(LlmopsError):
    """A call stopped before it was sent, because its input holds PII the policy blocks.

    ``entities`` names what was found (never the values).
    """

    def __init__(self, message: str, entities: list[str]) -> None:
        super().__init__(message)
        self.entities = entities
