"""``json_schema()``: the value parses as JSON and validates against a schema (``jsonschema``).

A string is parsed; any other value (a dict a function returns, a call's arguments) is validated
as it is. Messages name the failing place and the schema's rule, not the value there: jsonschema's
own messages quote the value (``'4111…' is not of type 'integer'``), which a span must not store.
"""

from __future__ import annotations

import json
from typing import Any

from ._validator import Subject, Validator
from ._verdict import Finding

__all__ = ["SchemaValidator", "json_schema"]

_MAX_ERRORS = 10


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


class SchemaValidator(Validator):
    """Fails when the value is not JSON valid against ``schema`` (see :func:`json_schema`)."""

    def __init__(self, schema: dict[str, Any], *, name: str = "json_schema", action: str | None = None,
                 on_error: str = "block") -> None:
        super().__init__(name=name, action=action, on_error=on_error)
        import jsonschema

        cls = jsonschema.validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except jsonschema.exceptions.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise ValueError(f"json_schema(): the schema is not valid at {where}: {exc.message}. Fix the schema "
                             f"({cls.__name__} rules).") from None
        self.schema = schema
        self._validator = cls(schema)

    def inspect(self, subject: Subject) -> list[Finding]:
        value = subject.value
        if isinstance(value, (str, bytes)):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                return [Finding(self.name, "not_json", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
        findings = []
        for error in sorted(self._validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path))):
            where = "/" + "/".join(str(p) for p in error.absolute_path) if error.absolute_path else "(root)"
            rule = error.validator_value
            if error.validator == "required" and isinstance(error.instance, dict):
                rule = [name for name in rule if name not in error.instance]  # names from the schema
            findings.append(Finding(self.name, "schema", f"{where}: fails {error.validator}={_short(rule)}"))
            if len(findings) == _MAX_ERRORS:
                break
        return findings


def json_schema(schema: dict[str, Any], *, name: str = "json_schema", action: str | None = None,
                on_error: str = "block") -> SchemaValidator:
    """Fails unless the value is JSON valid against ``schema``; a schema violation cannot be redacted,
    so under ``action="redact"`` it blocks.

    On a guarded function's output the return value is checked (a string is parsed); on its
    input, its arguments as an object ``{name: value}``.

    >>> from llmops_nb.guardrails import check, json_schema
    >>> schema = {"type": "object", "required": ["city"], "properties": {"temp_c": {"type": "number"}}}
    >>> for finding in check('{"temp_c": "warm"}', [json_schema(schema)], side="output").findings:
    ...     print(finding.message)
    (root): fails required=["city"]
    /temp_c: fails type="number"
    """
    return SchemaValidator(schema, name=name, action=action, on_error=on_error)
