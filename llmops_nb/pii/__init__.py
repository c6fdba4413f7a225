"""PII, found offline and handled by policy before anything is stored or exported.

``find_pii(text)`` lists findings (validated: checksums, numbering plans, context words);
``redact_pii(text, policy)`` applies a policy to one text; ``configure(pii=policy)`` applies it to
every span on its way to the store and to an OTLP backend.
"""

from ._detect import ENTITIES, PiiMatch, find_pii
from ._policy import ACTIONS, FIELDS, PiiBlockedError, PiiPolicy, PiiPolicyError, load_policy
from ._scrub import Scrubber, redact_pii

__all__ = ["ACTIONS", "ENTITIES", "FIELDS", "PiiBlockedError", "PiiMatch", "PiiPolicy", "PiiPolicyError", "Scrubber",
           "find_pii", "load_policy", "redact_pii"]
