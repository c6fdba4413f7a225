"""What a gateway request may cost at most, before it is sent, and what it did cost, after.

The gateway's budget rule (``_budgets.py``) reserves a request's *maximum* cost before the
upstream call, so every bound here errs high, never low:

* input tokens: the UTF-8 bytes of every string the prompt carries (messages, system, tools,
  embedding input; roles and names count as text) plus 8 per message for the chat template's
  markers. Byte-level BPE (OpenAI's and Anthropic's tokenizers) never makes more tokens than
  bytes, so this is a true upper bound for text. Tool definitions count as their JSON text plus
  ``TOOLS_OVERHEAD`` (the system prompt providers add for tool use); an image counts at least
  ``IMAGE_TOKENS``.
* output tokens: the request's ``max_tokens`` / ``max_completion_tokens`` (times ``n`` choices),
  else the deployment's ``max_output_tokens``, else ``DEFAULT_MAX_OUTPUT``. The upstream caps its
  answer there only when the request says so, so the gateway should send that value upstream.
* prices: the deployment's ``model_info`` overrides, else llmops_nb's price table
  (``_pricing.cost_usd``, long-prompt bands included), else 0 (an unknown model costs nothing).

Nothing here does I/O or takes a lock; each function is a few dict lookups and a walk of the body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._pricing import cost_usd
from ._types import Deployment, Route, Usage

__all__ = ["DEFAULT_MAX_OUTPUT", "IMAGE_TOKENS", "PER_MESSAGE", "TOOLS_OVERHEAD", "actual_cost",
           "input_tokens_upper", "max_cost", "max_input_tokens", "max_output_tokens", "token_prices"]

#: tokens a message's role and template markers can take (OpenAI documents 3-4; 8 leaves room)
PER_MESSAGE = 8
#: the system prompt OpenAI and Anthropic add when a request defines tools (Anthropic lists up to 346)
TOOLS_OVERHEAD = 512
#: an image part counts at least this many tokens: a 1,568-px image is ~1,600 tokens on Claude,
#: a high-detail one at most ~1,105 on gpt-4o. (Models billing images at a multiplier, such as
#: gpt-4o-mini, count more: set their max_input_tokens or budgets with that in mind.)
IMAGE_TOKENS = 2_000
#: the output bound when neither the request nor the deployment gives one
DEFAULT_MAX_OUTPUT = 4096

_IMAGE_TYPES = frozenset({"image", "image_url", "input_image", "document", "file", "input_audio"})


def input_tokens_upper(route: Route, body: Mapping[str, Any]) -> int:
    """An upper bound of the input tokens ``body`` will be billed for.

    >>> input_tokens_upper("chat", {"messages": [{"role": "user", "content": "héllo"}]})
    18
    """
    if route == "embeddings":
        return _embedding_input(body.get("input"))
    messages = body.get("messages")
    total = 0
    if isinstance(messages, list):
        total += PER_MESSAGE * len(messages)
        for message in messages:
            total += _text_bytes(message)
    system = body.get("system")  # Anthropic's top-level system prompt (a string or text blocks)
    if system is not None:
        total += PER_MESSAGE + _text_bytes(system)
    for name in ("tools", "functions"):
        tools = body.get(name)
        if tools:
            # a provider rewrites tool schemas into its own template; that text is never longer than the
            # JSON (keys included) by more than the template, which TOOLS_OVERHEAD covers
            total += TOOLS_OVERHEAD + len(json.dumps(tools, ensure_ascii=False, default=str).encode("utf-8"))
    for name in ("tool_choice", "response_format"):  # schemas the model is shown as text
        value = body.get(name)
        if isinstance(value, (dict, list)):
            total += len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))
    return total


def _text_bytes(value: Any) -> int:
    """UTF-8 bytes of every string inside ``value`` (dict values, list items); images count at least
    ``IMAGE_TOKENS``. Keys are protocol structure (``role``, ``type``), covered by ``PER_MESSAGE``."""
    if isinstance(value, str):
        # len(str) is a cheap lower bound; encode only when some character is not ASCII
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, Mapping):
        inner = sum(_text_bytes(v) for v in value.values())
        if value.get("type") in _IMAGE_TYPES:
            return max(inner, IMAGE_TOKENS)
        return inner
    if isinstance(value, (list, tuple)):
        return sum(_text_bytes(v) for v in value)
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, (int, float)):
        return len(str(value))
    return len(str(value).encode("utf-8", "surrogatepass"))


def _embedding_input(value: Any) -> int:
    """Embedding input: a string, strings, token ids, or lists of token ids (each id is one token)."""
    if isinstance(value, str):
        return _text_bytes(value)
    if isinstance(value, list):
        if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return len(value)
        return sum(_embedding_input(v) for v in value)
    return _text_bytes(value)


def max_output_tokens(route: Route, body: Mapping[str, Any], d: Deployment) -> int:
    """The most output tokens the request may be billed for (0 for embeddings).

    >>> from llmops_nb.gateway._types import Deployment
    >>> d = Deployment("chat", "chat#0", "openai", "gpt-4o-mini", "openai", max_output_tokens=16384)
    >>> max_output_tokens("chat", {"max_tokens": 100, "n": 2}, d), max_output_tokens("chat", {}, d)
    (200, 16384)
    """
    if route == "embeddings":
        return 0
    limit = _first_int(body, d.params)
    if limit is None:
        limit = d.max_output_tokens if d.max_output_tokens is not None else DEFAULT_MAX_OUTPUT
    choices = body.get("n", d.params.get("n", 1)) if route == "chat" else 1
    if isinstance(choices, bool) or not isinstance(choices, int) or choices < 1:
        choices = 1  # the upstream refuses a bad n; it bills nothing extra for it
    return limit * choices


def _first_int(*sources: Mapping[str, Any]) -> int | None:
    for source in sources:
        for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
            value = source.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                return value
    return None


def token_prices(d: Deployment) -> tuple[float, float]:
    """USD per input token and per output token: ``model_info`` overrides, else the price table, else 0.

    >>> from llmops_nb.gateway._types import Deployment
    >>> token_prices(Deployment("chat", "chat#0", "openai", "gpt-4o-mini", "openai"))
    (1.5e-07, 6e-07)
    """
    table_in = cost_usd(d.provider, d.model, 1, 0) if d.input_cost_per_token is None else None
    table_out = cost_usd(d.provider, d.model, 0, 1) if d.output_cost_per_token is None else None
    price_in = d.input_cost_per_token if d.input_cost_per_token is not None else table_in
    price_out = d.output_cost_per_token if d.output_cost_per_token is not None else table_out
    return float(price_in or 0.0), float(price_out or 0.0)


def _cost(d: Deployment, input_tokens: int, output_tokens: int) -> float:
    if d.input_cost_per_token is None and d.output_cost_per_token is None:
        # the table's own rule, so a long-prompt band applies to the bound exactly as to the bill
        priced = cost_usd(d.provider, d.model, input_tokens, output_tokens)
        if priced is not None:
            return priced
    price_in, price_out = token_prices(d)
    return input_tokens * price_in + output_tokens * price_out


def max_cost(route: Route, body: Mapping[str, Any], d: Deployment) -> float:
    """The most ``body`` can cost on ``d`` in USD: what the gateway reserves against budgets.

    >>> from llmops_nb.gateway._types import Deployment
    >>> d = Deployment("chat", "chat#0", "openai", "gpt-4o-mini", "openai")
    >>> round(max_cost("chat", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}, d), 10)
    8.1e-06
    """
    return _cost(d, input_tokens_upper(route, body), max_output_tokens(route, body, d))


def actual_cost(d: Deployment, usage: Usage) -> float:
    """What a call cost in USD from the tokens the upstream reported (a missing count counts 0).

    When the upstream reports no usage at all, settle with the reservation's amount instead: the
    bound is the only number known to be not too low.
    """
    return _cost(d, max(int(usage.input_tokens or 0), 0), max(int(usage.output_tokens or 0), 0))


def max_input_tokens(d: Deployment) -> int | None:
    """The deployment's context window for input, when known: ``model_info.max_input_tokens``.

    llmops_nb's price table has no context windows (its rows hold rates only), so without the
    override the window is unknown and the upstream's own context-window error decides.
    """
    return d.max_input_tokens
