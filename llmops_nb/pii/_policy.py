"""What to do with each kind of PII, per field: allow, mask, hash, drop or block.

A policy is written as a dict, a YAML/JSON file, or one word for every entity::

    configure(pii="mask")
    configure(pii={"default": "mask", "EMAIL": "hash", "IP_ADDRESS": "allow",
                   "fields": {"outputs": {"PHONE": "allow"}}})
    configure(pii="pii-policy.yaml")

- ``mask`` writes ``[EMAIL_1]``, ``[EMAIL_2]``…: the same value gets the same number within a
  trace, so a reader still sees that the answer quotes the question's address.
- ``hash`` writes ``[EMAIL:3f2a9c1b0d4e]``, an HMAC-SHA256 keyed with the project's secret
  (``LLMOPS_NB_PII_SECRET`` or ``secret_file``): the same customer links across traces, and nobody
  without the secret can test a guess. Without a secret a hash policy is refused at configure time.
- ``drop`` replaces the whole field, ``[dropped: EMAIL]``, for fields where even the rest of the
  text is too revealing.
- ``block`` stops an OpenAI/Anthropic SDK call whose request holds the entity (``inputs`` field):
  :class:`PiiBlockedError` is raised before anything is sent. Where nothing can be stopped any
  more (a response, a span recorded by ``@trace``), it drops the field like ``drop``.
- ``allow`` keeps the value.

A mistake in a policy raises :class:`PiiPolicyError` naming the entry (and its line in a file).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._detect import ENGINES, ENTITIES, canonical_entity
from ._errors import PiiBlockedError, PiiPolicyError

__all__ = ["ACTIONS", "FIELDS", "PiiBlockedError", "PiiPolicy", "PiiPolicyError", "load_policy"]

ACTIONS = ("allow", "mask", "hash", "drop", "block")
# the span fields a policy can single out (their names as in the store and in spans())
FIELDS = ("name", "inputs", "outputs", "attributes", "events", "error", "status_message", "tags", "session", "cell")
SECRET_ENV = "LLMOPS_NB_PII_SECRET"
_SETTINGS = {"default", "fields", "threshold", "phone_regions", "secret_file", "engine"}


@dataclass(frozen=True)
class PiiPolicy:
    """Actions by entity, overridden per field; ``secret`` keys the hashes (never stored)."""

    actions: Mapping[str, str]
    fields: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    threshold: float = 0.5
    phone_regions: tuple[str, ...] = ("US", "GB")
    secret: bytes | None = field(default=None, repr=False)
    engine: str = "builtin"
    default: str = "mask"  # for entities the policy does not name (Presidio's, with that engine)

    def action(self, entity: str, field_name: str | None = None) -> str:
        if field_name is not None:
            override = self.fields.get(field_name)
            if override is not None and entity in override:
                return override[entity]
        return self.actions.get(entity, self.default)

    def entities_for(self, field_name: str | None) -> tuple[str, ...] | None:
        """The entities worth looking for in ``field_name`` (those not allowed there); None: all that
        the engine finds (Presidio's set is open), the allowed ones left as they are afterwards."""
        if self.engine != "builtin":
            return None
        return tuple(e for e in ENTITIES if self.action(e, field_name) != "allow")


def load_policy(spec: Any) -> PiiPolicy | None:
    """A :class:`PiiPolicy` from ``configure(pii=...)``'s value; ``None``/``False`` for no policy."""
    if spec is None or spec is False:
        return None
    if isinstance(spec, PiiPolicy):
        return spec
    lines: dict[str, int] = {}
    where = "pii"
    if isinstance(spec, (str, os.PathLike)) and (isinstance(spec, os.PathLike) or spec.strip().lower() not in ACTIONS):
        path = Path(spec).expanduser()
        spec, lines = _read_file(path)
        where = str(path)
    elif isinstance(spec, str):
        spec = {"default": spec}
    if not isinstance(spec, Mapping):
        raise PiiPolicyError(f"{where}: a PII policy is one of {', '.join(ACTIONS)}, a dict or a YAML/JSON file "
                             f"path, not {type(spec).__name__}")

    def fail(key: str, message: str) -> PiiPolicyError:
        line = f" (line {lines[key]})" if key in lines else ""
        return PiiPolicyError(f"{where}{line}: {message}")

    def action_of(key: str, value: Any) -> str:
        word = str(value).strip().lower()
        if word not in ACTIONS:
            raise fail(key, f"{key}: {value!r} is not an action; use one of {', '.join(ACTIONS)}")
        return word

    engine = str(spec.get("engine", "builtin")).strip().lower()
    if engine not in ENGINES:
        raise fail("engine", f"engine: {spec.get('engine')!r} is not an engine; use one of {', '.join(ENGINES)}")

    def entity_of(key: str, name: str | None = None) -> str:
        try:
            return canonical_entity(key if name is None else name, engine)
        except ValueError as exc:
            settings = "" if name is not None else f", or a setting ({', '.join(sorted(_SETTINGS))})"
            raise fail(key, f"{exc}{settings}") from None

    default = action_of("default", spec.get("default", "mask"))
    actions = dict.fromkeys(ENTITIES, default)
    fields: dict[str, dict[str, str]] = {}
    for key, value in spec.items():
        if key in _SETTINGS:
            continue
        actions[entity_of(key)] = action_of(key, value)
    raw_fields = spec.get("fields") or {}
    if not isinstance(raw_fields, Mapping):
        raise fail("fields", "fields: a mapping of field name to {entity: action}")
    for name, overrides in raw_fields.items():
        if name not in FIELDS:
            raise fail(f"fields.{name}", f"fields: unknown field {name!r}; use one of {', '.join(FIELDS)}")
        if isinstance(overrides, str):  # fields: {outputs: allow}
            fields[name] = dict.fromkeys(ENTITIES, action_of(f"fields.{name}", overrides))
            continue
        if not isinstance(overrides, Mapping):
            raise fail(f"fields.{name}", f"fields.{name}: an action or a mapping of entity to action")
        fields[name] = {entity_of(f"fields.{name}.{k}", k): action_of(f"fields.{name}.{k}", v)
                        for k, v in overrides.items()}
    try:
        threshold = float(spec.get("threshold", 0.5))
    except (TypeError, ValueError):
        raise fail("threshold", f"threshold: {spec.get('threshold')!r} is not a number between 0 and 1") from None
    if not 0.0 <= threshold <= 1.0:
        raise fail("threshold", f"threshold: {threshold} is not between 0 and 1")
    regions = spec.get("phone_regions", ("US", "GB"))
    regions = (regions,) if isinstance(regions, str) else tuple(str(r).upper() for r in regions)
    uses_hash = "hash" in actions.values() or any("hash" in f.values() for f in fields.values())
    secret = _secret(spec.get("secret_file"), fail) if uses_hash else None
    return PiiPolicy(actions, fields, threshold, regions, secret, engine, default)


def _secret(secret_file: Any, fail: Any) -> bytes:
    if secret_file:
        path = Path(str(secret_file)).expanduser()
        try:
            value = path.read_bytes().strip()
        except OSError as exc:
            raise fail("secret_file", f"secret_file: cannot read {path} ({exc.strerror})") from None
        if len(value) >= 16:
            return value
        raise fail("secret_file", f"secret_file: {path} holds fewer than 16 bytes; write a long random secret there")
    from_env = os.environ.get(SECRET_ENV, "")
    if len(from_env) >= 16:
        return from_env.encode()
    raise PiiPolicyError(f"a hash action needs a secret of 16+ characters: set ${SECRET_ENV} (e.g. to the "
                         "output of `python -c 'import secrets; print(secrets.token_hex(32))'`) or give "
                         "secret_file in the policy")


def _read_file(path: Path) -> tuple[Any, dict[str, int]]:
    """The policy in ``path`` and the line of each key (``fields.outputs.PHONE`` style) for messages."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PiiPolicyError(f"cannot read the PII policy file {path} ({exc.strerror}); give a path to a YAML "
                             f"or JSON file, or one of {', '.join(ACTIONS)}") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text), {}
        except json.JSONDecodeError as exc:
            raise PiiPolicyError(f"{path} (line {exc.lineno}): not valid JSON: {exc.msg}") from None
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise PiiPolicyError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    lines: dict[str, int] = {}

    def walk(n: Any, prefix: str) -> None:
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                name = f"{prefix}{key.value}"
                lines[name] = key.start_mark.line + 1
                walk(value, name + ".")
    walk(node, "")
    return data, lines
