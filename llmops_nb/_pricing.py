"""What an LLM call cost, from its token counts and a table of list prices.

The built-in table (``llmops_nb/data/prices.json``, USD per 1M tokens, dated in
its ``_meta``) covers current OpenAI and Anthropic models; it is read on the
first lookup. ``set_prices()`` / ``load_prices()`` override or extend it.

Token counts are passed the way each provider reports them, and the two
providers count input differently:

* **OpenAI** — ``input_tokens`` (``prompt_tokens``) *include* the cached tokens:
  ``cache_read_tokens`` of them are billed at the cached rate and the rest at
  the input rate.
* **Anthropic** — ``input_tokens`` *exclude* cache reads and writes: each of the
  three counts is billed at its own rate, and the prompt size is their sum.

A model is found by its exact name, or by that name without a date suffix
(``gpt-4o-2024-08-06`` → ``gpt-4o``, ``claude-opus-4-7-20260101`` →
``claude-opus-4-7``). Nothing else is inferred: an unknown model, or a token
kind the table has no price for, gives ``None`` rather than a guess.

>>> from llmops_nb._pricing import cost_usd
>>> round(cost_usd("openai", "gpt-4o-2024-08-06", 1_000, 100, cache_read_tokens=400), 6)
0.003
"""

from __future__ import annotations

import json
import math
import re
import threading
from importlib import resources
from os import PathLike
from typing import Any

from ._errors import did_you_mean

_RATE_FIELDS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
_MODEL_FIELDS = (*_RATE_FIELDS, "long_prompt", "note")
_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")

_lock = threading.Lock()
_table: dict[str, dict[str, dict[str, Any]]] | None = None


def cost_usd(provider: str, model: str | None, input_tokens: int | None, output_tokens: int | None,  # noqa: PLR0917
             cache_read_tokens: int | None = 0, cache_creation_tokens: int | None = 0, *,
             cache_creation_1h_tokens: int | None = 0) -> float | None:
    """USD cost of one call, or ``None`` when the model or a needed price is unknown.

    ``cache_creation_1h_tokens`` is the part of ``cache_creation_tokens`` written
    with Anthropic's one-hour TTL (billed at its own rate).

    >>> cost_usd("anthropic", "claude-haiku-4-5", 1_000, 200)
    0.002
    """
    rates = _lookup(provider, model)
    if rates is None or input_tokens is None or output_tokens is None:
        return None
    read, write = int(cache_read_tokens or 0), int(cache_creation_tokens or 0)
    write_1h = min(int(cache_creation_1h_tokens or 0), write)
    counted_in_input = provider == "openai"  # OpenAI's prompt_tokens already contain cache reads/writes
    prompt = int(input_tokens) if counted_in_input else int(input_tokens) + read + write
    band = rates.get("long_prompt")
    if band is not None and prompt > band["above_tokens"]:
        rates = band
    fresh = max(0, int(input_tokens) - read - write) if counted_in_input else int(input_tokens)
    parts = (("input", fresh), ("output", int(output_tokens)), ("cache_read", read),
             ("cache_write", write - write_1h), ("cache_write_1h", write_1h))
    total = 0.0
    for field, tokens in parts:
        if not tokens:
            continue
        price = rates.get(field)
        if price is None:  # e.g. cache writes on a model without a listed write price
            return None
        total += tokens * price
    return total / 1_000_000


def set_prices(prices: dict[str, dict[str, dict[str, Any]]], *, replace: bool = False) -> None:
    """Add or override prices, per provider and model, in USD per 1M tokens.

    >>> import llmops_nb._pricing as pricing
    >>> pricing.set_prices({"openai": {"my-finetune": {"input": 3.0, "output": 12.0}}})  # doctest: +SKIP

    ``replace=True`` drops the built-in table first. Rate fields: ``input``,
    ``output``, ``cache_read``, ``cache_write``, ``cache_write_1h``; plus an optional
    ``long_prompt`` band ``{"above_tokens": N, <rate fields>}``.
    """
    checked = _validate(prices)
    global _table
    with _lock:
        base = {} if replace else _load_builtin_locked()
        merged = {provider: dict(models) for provider, models in base.items()}
        for provider, models in checked.items():
            merged.setdefault(provider, {}).update(models)
        _table = merged


def load_prices(path: str | PathLike[str], *, replace: bool = False) -> None:
    """Read a JSON file shaped like ``llmops_nb/data/prices.json`` and apply it with :func:`set_prices`."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of providers, got {type(data).__name__}.")
    set_prices({k: v for k, v in data.items() if not k.startswith("_")}, replace=replace)


def prices() -> dict[str, dict[str, dict[str, Any]]]:
    """The table in use (a copy): built-in prices plus any set with :func:`set_prices`."""
    with _lock:
        table = _load_builtin_locked()
        return {provider: {m: dict(r) for m, r in models.items()} for provider, models in table.items()}


def _lookup(provider: str, model: str | None) -> dict[str, Any] | None:
    if not model or not isinstance(model, str):
        return None
    table = _table if _table is not None else _load_builtin()
    models = table.get(provider)
    if not models:
        return None
    name = model.strip().lower()
    return models.get(name) or models.get(_DATE_SUFFIX.sub("", name))


def _load_builtin() -> dict[str, dict[str, dict[str, Any]]]:
    with _lock:
        return _load_builtin_locked()


def _load_builtin_locked() -> dict[str, dict[str, dict[str, Any]]]:
    global _table
    if _table is None:
        text = resources.files("llmops_nb").joinpath("data").joinpath("prices.json").read_text(encoding="utf-8")
        data = json.loads(text)
        _table = _validate({k: v for k, v in data.items() if not k.startswith("_")})
    return _table


def _validate(prices: Any) -> dict[str, dict[str, dict[str, Any]]]:
    if not isinstance(prices, dict):
        raise TypeError(f"Prices must be a dict of provider -> model -> rates, got {type(prices).__name__}.")
    checked: dict[str, dict[str, dict[str, Any]]] = {}
    for provider, models in prices.items():
        if not isinstance(models, dict):
            raise TypeError(f"Prices for provider {provider!r} must be a dict of model -> rates, "
                            f"e.g. {{'gpt-4o': {{'input': 2.5, 'output': 10.0}}}}.")
        checked[str(provider)] = {str(m).strip().lower(): _check_rates(f"{provider}/{m}", r, _MODEL_FIELDS)
                                  for m, r in models.items()}
    return checked


def _check_rates(where: str, rates: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(rates, dict):
        raise TypeError(f"{where}: rates must be a dict such as {{'input': 2.5, 'output': 10.0}}, got {rates!r}.")
    out: dict[str, Any] = {}
    for field, value in rates.items():
        if field not in allowed:
            hint = did_you_mean(field, allowed) or " Check the spelling."
            raise ValueError(f"{where}: unknown price field {field!r}.{hint} Known: {', '.join(allowed)}.")
        if field == "note":
            out[field] = str(value)
        elif field == "long_prompt":
            band = _check_rates(f"{where}/long_prompt", value, ("above_tokens", *_RATE_FIELDS))
            if "above_tokens" not in band:
                raise ValueError(f"{where}/long_prompt needs 'above_tokens', the prompt size the band starts after.")
            out[field] = band
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{where}: {field} must be a non-negative number of USD per 1M tokens, got {value!r}.")
            out[field] = float(value) if field != "above_tokens" else int(value)
    if "long_prompt" not in allowed:  # a band: nothing else is required
        return out
    missing = [f for f in ("input", "output") if f not in out]
    if missing:
        raise ValueError(f"{where}: missing {' and '.join(missing)} price (USD per 1M tokens).")
    return out
