"""Turn any Python value into capped, valid JSON text without ever raising.

Inputs and outputs are serialized when they are recorded (not later), so a
message list the user appends to after the call is stored as it was sent.
Whatever the value — numpy arrays, pydantic models, dataclasses, bytes, sets,
cycles, objects whose ``repr`` raises, 50 MB strings, lone surrogates — the
result is JSON of at most ``cap`` characters plus a note saying what was cut.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 32
MAX_ITEMS = 10_000


def _reject(value: Any) -> Any:
    raise TypeError("not plain JSON")


def plain_json_encoder() -> Callable[[Any], str]:
    """``encode(value) -> str`` for plain JSON data; raises TypeError/ValueError/RecursionError otherwise.

    ``JSONEncoder.encode`` builds a new C encoder on every call: 1.7 µs for ``{"q": "..."}``, more
    than a whole span should cost. The C encoder built once does it in 0.55 µs. No circular check
    (``markers=None``: that dict would be shared between threads); a cycle ends in RecursionError,
    which callers catch and hand to the safe walker. Non-finite floats raise (not JSON).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator (PyPy): the ordinary encoder
        return json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_reject).encode  # pragma: no cover
    encode = make(None, _reject, json.encoder.encode_basestring, None, ": ", ", ", False, False, False)
    join = "".join

    def dumps(value: Any) -> str:
        return join(encode(value, 0))

    return dumps


_dumps_plain = plain_json_encoder()
_dumps_str = json.encoder.encode_basestring  # a str alone: the C string encoder, no wrapper at all


class _Budget:
    __slots__ = ("cut", "left")

    def __init__(self, chars: int) -> None:
        self.left = chars
        self.cut = False


def to_json(value: Any, cap: int) -> tuple[str, int | None]:
    """Return ``(json_text, original_chars_or_None)``; the second is set when capped."""
    # Fast paths: json.dumps costs ~0.9 µs even for None, more than a whole span should.
    if value is None:
        return "null", None
    kind = type(value)
    if kind is bool:
        return ("true" if value else "false"), None
    if kind is int and -(2**63) <= value < 2**63:
        return int.__repr__(value), None
    if kind is float and math.isfinite(value):
        return float.__repr__(value), None
    if kind is str and len(value) < 1024:
        # Surrogates are fixed by the writer, off the caller's thread.
        return _dumps_str(value), None
    if kind is dict or kind is list:
        # Plain JSON data (the usual arguments) encodes in C; anything else falls to the walker.
        try:
            text = _dumps_plain(value)
            if len(text) <= cap:
                return text, None
        except (TypeError, ValueError, RecursionError):
            pass
    budget = _Budget(cap)
    try:
        safe = _walk(value, budget, 0, set())
        text = json.dumps(safe, ensure_ascii=False)
    except Exception as exc:  # noqa: BLE001 - a payload must never break the caller
        text = json.dumps(f"<unserializable {_type_name(value)}: {type(exc).__name__}>")
    if budget.cut or len(text) > cap:
        original = _estimate_chars(value)
        if len(text) > cap:
            text = json.dumps(text[:cap] + f"… [truncated at {cap} chars]", ensure_ascii=False)
        return text, max(original, len(text))
    return text, None


def plain(value: Any, cap: int) -> Any:
    """A JSON-safe copy of ``value`` (scalars as they are), made now: for span attributes.

    Serializing when a value is *set* means the writer thread never touches a user's object
    (never runs its ``repr``, never recurses into it) and later mutation changes nothing.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        return value if -(2**63) <= value < 2**63 else str(value)
    if kind is float:
        return value if math.isfinite(value) else str(value)
    return json.loads(to_json(value, cap)[0])


def safe_str(value: Any) -> str:
    """``str(value)``, or a description when its ``__str__`` raises or returns a non-string."""
    if type(value) is str:
        return value
    try:
        text = str(value)
    except Exception as exc:  # noqa: BLE001 - a hostile __str__ must not break the caller
        return f"<{_type_name(value)} object: str() raised {type(exc).__name__}>"
    return text if type(text) is str else f"<{_type_name(value)} object>"


def _walk(value: Any, budget: _Budget, depth: int, active: set[int]) -> Any:
    kind = type(value)
    if kind is str:
        return _cap_str(value, budget)
    if kind is bool or value is None:
        budget.left -= 5
        return value
    if kind is int:
        budget.left -= 8
        return value if -(2**63) <= value < 2**63 else str(value)
    if kind is float:
        budget.left -= 8
        return value if math.isfinite(value) else str(value)
    if budget.left <= 0:
        budget.cut = True
        return "…"
    if depth >= MAX_DEPTH:
        budget.cut = True
        return f"<{_type_name(value)}: nested deeper than {MAX_DEPTH} levels>"
    ident = id(value)
    if ident in active:
        return f"<cycle: {_type_name(value)}>"
    active.add(ident)
    try:
        return _walk_container(value, budget, depth, active)
    finally:
        active.discard(ident)


def _walk_container(value: Any, budget: _Budget, depth: int, active: set[int]) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if index >= MAX_ITEMS or budget.left <= 0:
                budget.cut = True
                out["…"] = f"{len(value) - index} more items"
                break
            name = key if type(key) is str else _safe_repr(key)
            out[_cap_str(name, budget)] = _walk(item, budget, depth + 1, active)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = value
        if isinstance(value, (set, frozenset)):
            try:
                items = sorted(value)
            except Exception:  # noqa: BLE001 - unorderable members: keep iteration order
                items = list(value)
        out_list = []
        for index, item in enumerate(items):
            if index >= MAX_ITEMS or budget.left <= 0:
                budget.cut = True
                out_list.append(f"… {len(items) - index} more items")
                break
            out_list.append(_walk(item, budget, depth + 1, active))
        return out_list
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value[:64])
        budget.left -= 160
        return {"__type__": "bytes", "length": len(value), "head_hex": raw.hex()}
    converted = _convert_known(value)
    if converted is not _UNKNOWN:
        return _walk(converted, budget, depth + 1, active)
    return _cap_str(_safe_repr(value), budget)


_UNKNOWN = object()


def _convert_known(value: Any) -> Any:
    """Map well-known rich types to plain data; ``_UNKNOWN`` when we have no mapping."""
    try:
        # pydantic v2 (the openai and anthropic SDKs' models included)
        dump = getattr(type(value), "model_dump", None)
        if callable(dump):
            return value.model_dump(mode="json", warnings=False)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
        module = type(value).__module__
        if module.startswith("numpy"):
            return _numpy(value)
        if module.startswith("pandas"):
            return _pandas(value)
        if hasattr(value, "_asdict"):  # namedtuple-like
            return value._asdict()
    except Exception:  # noqa: BLE001 - fall back to repr
        return _UNKNOWN
    return _UNKNOWN


def _numpy(value: Any) -> Any:
    if hasattr(value, "shape") and hasattr(value, "dtype") and getattr(value, "ndim", 0) > 0:
        summary: dict[str, Any] = {"__type__": "ndarray", "shape": list(value.shape), "dtype": str(value.dtype)}
        flat = value.reshape(-1)
        summary["values" if flat.size <= 1000 else "head"] = flat[:1000].tolist()
        return summary
    return value.item() if hasattr(value, "item") else _UNKNOWN


def _pandas(value: Any) -> Any:
    if hasattr(value, "to_dict") and hasattr(value, "shape"):
        head = value.head(100)
        kind = type(value).__name__
        body = head.to_dict(orient="records") if kind == "DataFrame" else head.to_dict()
        return {"__type__": kind, "shape": list(value.shape), "head": body}
    return _UNKNOWN


def _cap_str(text: str, budget: _Budget) -> str:
    budget.left -= len(text) + 2
    if budget.left < 0:
        keep = max(0, len(text) + budget.left)
        budget.cut = True
        return text[:keep] + f"… [truncated: {len(text)} chars]"
    return text


def _safe_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - objects whose repr raises are still recorded
        return f"<{_type_name(value)} object: repr raised {type(exc).__name__}>"
    return text if type(text) is str else f"<{_type_name(value)} object>"


def _type_name(value: Any) -> str:
    try:
        kind = type(value)
        return f"{kind.__module__}.{kind.__qualname__}"
    except Exception:  # noqa: BLE001
        return "object"


def _estimate_chars(value: Any, depth: int = 0) -> int:
    """Cheap size estimate of the uncapped payload's strings, for the cap note."""
    if isinstance(value, str):
        return len(value) + 2
    if depth < MAX_DEPTH and isinstance(value, (list, tuple, dict)):
        items = value.values() if isinstance(value, dict) else value
        try:
            return sum(_estimate_chars(v, depth + 1) for v in items) + 2
        except Exception:  # noqa: BLE001
            return 0
    return 0
