"""``llmops_nb.gateway``: one governed endpoint for every provider, in the kernel and as a server.

>>> gw = llmops_nb.gateway.load("gateway.yaml")     # doctest: +SKIP
>>> client = gw.client()                             # an openai.OpenAI through the gateway
>>> server = gw.serve()                              # the same gateway over HTTP on 127.0.0.1

Routing (simple-shuffle, least-busy, latency- and cost-based), retries with backoff that honours
``Retry-After``, cooldowns, fallbacks (general, context-window, content-policy), virtual keys,
rate limits and budgets reserved before each call, every request a trace in the store. The
config speaks LiteLLM's vocabulary (``model_list``, ``litellm_params``, ``router_settings``).
Names load on first use, so ``import llmops_nb.gateway`` costs nothing until a gateway is built.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Gateway": "._gateway", "load": "._gateway",
    "GatewayConfig": "._config", "load_config": "._config",
    "GatewayError": "._errors", "GatewayConfigError": "._errors", "GatewayAuthError": "._errors",
    "GatewayForbiddenError": "._errors", "GatewayRequestTooLarge": "._errors", "BudgetExceededError": "._errors",
    "GatewayRateLimitError": "._errors", "NoDeploymentError": "._errors", "UnknownModelError": "._errors",
    "UpstreamError": "._errors",
    "GatewayServer": "._server", "serve": "._server",
}

__all__ = ["BudgetExceededError", "Gateway", "GatewayAuthError", "GatewayConfig", "GatewayConfigError", "GatewayError",
           "GatewayForbiddenError", "GatewayRateLimitError", "GatewayRequestTooLarge", "GatewayServer",
           "NoDeploymentError", "UnknownModelError", "UpstreamError", "load", "load_config", "serve"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmops_nb.gateway' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
