"""A call's parameters and reply as span inputs and OpenTelemetry GenAI attributes: the rules every provider shares.

What differs between providers — which parameter is the token limit, where
usage sits in the reply, how cache tokens are counted — stays in
``_openai.py`` and ``_anthropic.py``; these helpers are the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._redact import redact_mapping


def is_sentinel(value: Any) -> bool:
    """The SDKs' "not given" markers (``omit``, ``NOT_GIVEN``), which their helpers pass explicitly."""
    kind = type(value)
    return kind.__name__ in ("Omit", "NotGiven") and kind.__module__.split(".")[0] in ("openai", "anthropic")


def given(kwargs: dict[str, Any], key: str) -> Any:
    value = kwargs.get(key)
    return None if value is None or is_sentinel(value) else value


def scrub_inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's parameters as the user passed them, minus SDK sentinels and credentials."""
    inputs: dict[str, Any] = {}
    for key, value in kwargs.items():
        if is_sentinel(value):
            continue
        if key in ("extra_headers", "extra_query", "extra_body"):
            clean = _scrub_mapping(value, query=key == "extra_query") if isinstance(value, dict) else value
            if clean:  # the SDK helpers pass None / {} for these
                inputs[key] = clean
            continue
        inputs[key] = value
    if args:
        inputs["args"] = list(args)
    return inputs


def _scrub_mapping(values: dict[Any, Any], *, query: bool) -> dict[Any, Any]:
    """Headers, query or body parameters minus SDK bookkeeping, with credentials redacted at any depth."""
    kept = {key: value for key, value in values.items()
            if not str(key).lower().startswith("x-stainless-")  # the SDK's own headers, not the user's
            and not is_sentinel(value)}
    return redact_mapping(kept, query=query)


def helper_method(headers: Any) -> str | None:
    """The SDK helper that made this request (``x-stainless-helper-method``), e.g. ``chat.completions.stream``."""
    if isinstance(headers, dict):
        for key, value in headers.items():
            if str(key).lower() == "x-stainless-helper-method" and isinstance(value, str):
                return value
    return None


def server_attributes(resource: Any) -> dict[str, Any]:
    """``server.address``/``server.port`` from the client's base URL (never the URL itself: it may hold credentials)."""
    url = getattr(getattr(resource, "_client", None), "base_url", None)
    host = getattr(url, "host", None)
    if not host:
        return {}
    port = getattr(url, "port", None) or {"https": 443, "http": 80}.get(str(getattr(url, "scheme", "")))
    return {"server.address": str(host), **({"server.port": int(port)} if port else {})}


#: The host of ``llmops_nb.gateway``'s in-kernel clients (never resolved: their transport is the gateway).
GATEWAY_HOST = "llmops-nb-gateway.invalid"


def through_gateway(resource: Any) -> bool:
    """True for a call of a client built by ``gateway.client()``: the gateway traces it, not the SDK patch."""
    url = getattr(getattr(resource, "_client", None), "base_url", None)
    return getattr(url, "host", None) == GATEWAY_HOST


def request_attributes(kwargs: dict[str, Any], numbers: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """``gen_ai.request.model`` and the numeric parameters ``numbers`` maps (SDK name -> attribute name)."""
    attrs: dict[str, Any] = {}
    model = given(kwargs, "model")
    if model is not None:
        attrs["gen_ai.request.model"] = str(model)
    for key, name in numbers:
        value = given(kwargs, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[name] = value
    return attrs


def response_identity(out: dict[str, Any]) -> dict[str, Any]:
    """``gen_ai.response.id`` and ``gen_ai.response.model`` of a reply dumped to a dict."""
    attrs: dict[str, Any] = {}
    if out.get("id"):
        attrs["gen_ai.response.id"] = str(out["id"])
    if out.get("model"):
        attrs["gen_ai.response.model"] = str(out["model"])
    return attrs


def usage_attributes(input_tokens: Any, output_tokens: Any, cache_read: Any = None, cache_creation: Any = None,
                     reasoning: Any = None) -> dict[str, Any]:
    names = (("gen_ai.usage.input_tokens", input_tokens), ("gen_ai.usage.output_tokens", output_tokens),
             ("gen_ai.usage.cache_read.input_tokens", cache_read),
             ("gen_ai.usage.cache_creation.input_tokens", cache_creation),
             ("gen_ai.usage.reasoning.output_tokens", reasoning))
    return {name: int(value) for name, value in names if isinstance(value, int) and not isinstance(value, bool)}


def cost_attributes(response_model: Any, request_model: str | None,
                    price: Callable[[Any], float | None]) -> dict[str, Any]:
    """``llmops_nb.cost_usd`` priced by ``price(model)``: the response's model, else the requested one."""
    model = response_model or request_model
    cost = price(model)
    if cost is None and request_model and request_model != model:
        # A dated or aliased response model the table lacks: the requested name is the user's own choice.
        cost = price(request_model)
    return {} if cost is None else {"llmops_nb.cost_usd": cost}
