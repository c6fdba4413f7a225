"""Prices: the built-in table, provider-specific cache arithmetic, overrides, and never guessing."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from llmops_nb import _pricing
from llmops_nb._pricing import cost_usd


@pytest.fixture(autouse=True)
def fresh_table(monkeypatch):
    monkeypatch.setattr(_pricing, "_table", None)  # every test starts from the built-in file


def test_builtin_table_is_dated_sourced_and_complete():
    data = json.loads(resources.files("llmops_nb").joinpath("data", "prices.json").read_text())
    meta = data["_meta"]
    assert meta["read_on"] and set(meta["sources"]) == {"openai", "anthropic"}
    for provider in ("openai", "anthropic"):
        assert len(data[provider]) >= 5
        for model, rates in data[provider].items():
            assert {"input", "output"} <= set(rates), model
            assert rates["output"] >= rates["input"] > 0, model
            assert rates.get("cache_read", 0) < rates["input"], model
    assert set(_pricing.prices()) == {"openai", "anthropic"}


def test_openai_input_includes_cached_tokens():
    # gpt-4o: $2.50 in, $1.25 cached, $10 out. 1000 prompt tokens of which 400 cached.
    assert cost_usd("openai", "gpt-4o", 1000, 100, cache_read_tokens=400) == pytest.approx(
        (600 * 2.5 + 400 * 1.25 + 100 * 10) / 1e6)
    assert cost_usd("openai", "gpt-4o", 1_000_000, 0) == pytest.approx(2.5)


def test_anthropic_input_excludes_cache_reads_and_writes():
    # sonnet 4.6: $3 in, $0.30 read, $3.75 5m write, $6 1h write, $15 out
    cost = cost_usd("anthropic", "claude-sonnet-4-6", 100, 10, cache_read_tokens=1000, cache_creation_tokens=300,
                    cache_creation_1h_tokens=100)
    assert cost == pytest.approx((100 * 3 + 1000 * 0.3 + 200 * 3.75 + 100 * 6 + 10 * 15) / 1e6)


def test_long_prompt_band():
    # Haiku 5.5 bills the whole request at higher rates once the prompt (incl. cache) passes 100k tokens
    short = cost_usd("anthropic", "claude-haiku-5-5", 90_000, 1000, cache_read_tokens=10_000)
    long = cost_usd("anthropic", "claude-haiku-5-5", 90_000, 1000, cache_read_tokens=10_001)
    assert short == pytest.approx((90_000 * 0.1 + 10_000 * 0.01 + 1000 * 0.5) / 1e6)
    assert long == pytest.approx((90_000 * 0.5 + 10_001 * 0.05 + 1000 * 2.5) / 1e6)


def test_dated_names_match_and_nothing_else_is_guessed():
    assert cost_usd("openai", "gpt-4o-2024-08-06", 1000, 0) == cost_usd("openai", "gpt-4o", 1000, 0)
    assert cost_usd("openai", "gpt-4o-mini-2024-07-18", 1000, 0) == cost_usd("openai", "gpt-4o-mini", 1000, 0)
    assert cost_usd("anthropic", "claude-opus-4-7-20260301", 1000, 0) == cost_usd("anthropic", "claude-opus-4-7",
                                                                                   1000, 0)
    assert cost_usd("openai", "GPT-4o", 1000, 0) == cost_usd("openai", "gpt-4o", 1000, 0)
    for provider, model in [("openai", "gpt-5.6-sol"), ("openai", "gpt-4o-preview"), ("openai", "ft:gpt-4o:org"),
                            ("anthropic", "claude-opus-4-7-fast"), ("anthropic", "gpt-4o"), ("google", "gpt-4o"),
                            ("openai", None), ("openai", "")]:
        assert cost_usd(provider, model, 1000, 10) is None, model


def test_missing_price_for_a_token_kind_is_none():
    assert cost_usd("openai", "gpt-5.5-pro", 1000, 100) == pytest.approx((1000 * 30 + 100 * 180) / 1e6)
    assert cost_usd("openai", "gpt-5.5-pro", 1000, 100, cache_read_tokens=10) is None  # no cached rate listed
    assert cost_usd("openai", "gpt-4o", 1000, 100, cache_creation_tokens=10) is None  # no write price listed
    assert cost_usd("openai", "gpt-4o", None, 100) is None
    assert cost_usd("openai", "gpt-4o", 0, 0) == 0.0


def test_set_prices_extends_and_overrides():
    _pricing.set_prices({"openai": {"my-finetune": {"input": 3, "output": 12, "cache_read": 1.5}},
                         "anthropic": {"claude-opus-4-7": {"input": 1, "output": 2}},
                         "mistral": {"mistral-large": {"input": 2, "output": 6}}})
    assert cost_usd("openai", "my-finetune", 1_000_000, 0) == pytest.approx(3.0)
    assert cost_usd("anthropic", "claude-opus-4-7", 1_000_000, 1_000_000) == pytest.approx(3.0)
    assert cost_usd("mistral", "mistral-large", 0, 1_000_000) == pytest.approx(6.0)
    assert cost_usd("openai", "gpt-4o", 1_000_000, 0) == pytest.approx(2.5)  # the rest is kept
    _pricing.set_prices({"openai": {"only": {"input": 1, "output": 1}}}, replace=True)
    assert cost_usd("openai", "gpt-4o", 1000, 0) is None and cost_usd("openai", "only", 1_000_000, 0) == 1.0


def test_load_prices_from_file(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"_meta": {"read_on": "today"}, "openai": {"house-model": {"input": 1, "output": 4}}}))
    _pricing.load_prices(path)
    assert cost_usd("openai", "house-model", 1_000_000, 1_000_000) == pytest.approx(5.0)


@pytest.mark.parametrize(("bad", "message"), [
    ({"openai": {"m": {"inptu": 1, "output": 2}}}, "Did you mean 'input'"),
    ({"openai": {"m": {"input": -1, "output": 2}}}, "non-negative"),
    ({"openai": {"m": {"input": "1", "output": 2}}}, "non-negative"),
    ({"openai": {"m": {"output": 2}}}, "missing input"),
    ({"openai": {"m": {"input": 1, "output": 2, "long_prompt": {"input": 2}}}}, "above_tokens"),
    ({"openai": ["gpt-4o"]}, "dict of model"),
])
def test_bad_prices_are_rejected_with_the_reason(bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        _pricing.set_prices(bad)
    assert cost_usd("openai", "gpt-4o", 1_000_000, 0) == pytest.approx(2.5)  # the table is untouched
