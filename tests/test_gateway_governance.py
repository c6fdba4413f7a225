"""The gateway's governance: cost bounds, UTC budget windows, the budget ledger under concurrency,
alerts, sliding-window rate limits and virtual keys in a real store (never the key itself)."""

from __future__ import annotations

import random
import statistics
import threading
import time
from datetime import datetime, timezone

import pytest

import llmops_nb
from llmops_nb import _pricing
from llmops_nb.gateway._budgets import BudgetLedger, spent_from_store, window_bounds
from llmops_nb.gateway._config import BudgetRule
from llmops_nb.gateway._cost import (
    DEFAULT_MAX_OUTPUT,
    actual_cost,
    input_tokens_upper,
    max_cost,
    max_input_tokens,
    max_output_tokens,
    token_prices,
)
from llmops_nb.gateway._errors import BudgetExceededError, GatewayRateLimitError
from llmops_nb.gateway._keys import CACHE_TTL_S, KEY_PREFIX, KeyStore, key_hash
from llmops_nb.gateway._ratelimit import RateLimiter
from llmops_nb.gateway._types import Deployment, GatewayRequest, Usage, VirtualKey
from llmops_nb.store._audit import audit, verify_audit
from llmops_nb.store._connection import get_store

UTC = timezone.utc
TEXTS = ["plain ascii, nothing special", "héllo wörld — ½ café", "emoji 👋🏽👨‍👩‍👧‍👦🏳️‍🌈 and flags 🇯🇵",
         "中文、日本語、한국어 mixed with English", "\u0000\u200b zero-width and controls \t\n", "ﷺ 𒐫 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def deployment(**kw) -> Deployment:
    base = {"model_name": "chat", "id": "chat#0", "provider": "openai", "model": "gpt-4o-mini", "protocol": "openai"}
    return Deployment(**{**base, **kw})


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- cost bounds --------------------------------------------------------------------------------------
def test_the_input_bound_is_at_least_the_utf8_bytes_plus_eight_per_message():
    messages = [{"role": "user", "content": text} for text in TEXTS]
    bound = input_tokens_upper("chat", {"messages": messages})
    assert bound >= sum(len(t.encode("utf-8")) for t in TEXTS) + 8 * len(TEXTS)
    # content parts, Anthropic's system blocks and tools all count
    anthropic = {"system": [{"type": "text", "text": "Be brief. 🙂"}],
                 "messages": [{"role": "user", "content": [{"type": "text", "text": TEXTS[2]}]}],
                 "tools": [{"name": "lookup", "input_schema": {"type": "object"}}]}
    assert input_tokens_upper("messages", anthropic) >= len("Be brief. 🙂".encode()) + len(TEXTS[2].encode()) + 16 + 512
    image = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}
    assert input_tokens_upper("chat", image) >= 2000
    assert input_tokens_upper("embeddings", {"input": TEXTS}) == sum(len(t.encode()) for t in TEXTS)
    assert input_tokens_upper("embeddings", {"input": [[1, 2, 3], [4]]}) == 4  # token ids: one each


def test_the_input_bound_holds_for_a_real_byte_level_bpe():
    tokenizers = pytest.importorskip("tokenizers")
    bpe = tokenizers.ByteLevelBPETokenizer()
    bpe.train_from_iterator(["the quick brown fox jumps over the lazy dog"] * 20, vocab_size=400, min_frequency=1,
                            show_progress=False)
    for text in [*TEXTS, "".join(TEXTS) * 3]:
        body = {"messages": [{"role": "user", "content": text}]}
        assert len(bpe.encode(text).ids) + 8 <= input_tokens_upper("chat", body), text


def test_the_output_bound_takes_the_request_then_the_deployment_then_4096():
    d = deployment(max_output_tokens=16384)
    assert max_output_tokens("chat", {"max_tokens": 100}, d) == 100
    assert max_output_tokens("chat", {"max_completion_tokens": 50, "max_tokens": 100}, d) == 50
    assert max_output_tokens("chat", {"max_tokens": 100, "n": 3}, d) == 300  # every choice is billed
    assert max_output_tokens("messages", {"max_tokens": 100, "n": 3}, d) == 100
    assert max_output_tokens("chat", {}, d) == 16384
    assert max_output_tokens("chat", {}, deployment(params={"max_tokens": 77})) == 77
    assert max_output_tokens("chat", {}, deployment()) == DEFAULT_MAX_OUTPUT == 4096
    assert max_output_tokens("embeddings", {"max_tokens": 100}, d) == 0


def test_prices_come_from_overrides_then_the_table_then_zero():
    assert token_prices(deployment()) == pytest.approx((0.15e-6, 0.6e-6))
    assert token_prices(deployment(input_cost_per_token=1e-6)) == pytest.approx((1e-6, 0.6e-6))
    assert token_prices(deployment(model="my-own-llama")) == (0.0, 0.0)
    assert max_cost("chat", {"messages": [{"role": "user", "content": "hi"}]}, deployment(model="nope")) == 0.0
    assert max_input_tokens(deployment(max_input_tokens=128000)) == 128000
    assert max_input_tokens(deployment()) is None


def test_the_maximum_cost_is_never_below_the_actual_cost_long_prompt_bands_included(monkeypatch):
    monkeypatch.setattr(_pricing, "_table", None)  # restored after the test: the built-in table again
    _pricing.set_prices({"openai": {"banded": {"input": 1.0, "output": 2.0,
                                               "long_prompt": {"above_tokens": 1000, "input": 3.0, "output": 6.0}}}})
    rng = random.Random(7)
    for model in ("gpt-4o-mini", "banded"):
        d = deployment(model=model)
        for _ in range(200):
            text = "".join(rng.choice(TEXTS) for _ in range(rng.randint(0, 400)))
            body = {"messages": [{"role": "user", "content": text}], "max_tokens": rng.randint(1, 3000)}
            bound = max_cost("chat", body, d)
            used = Usage(rng.randint(0, len(text.encode()) + 8), rng.randint(0, body["max_tokens"]))
            assert actual_cost(d, used) <= bound + 1e-15
    assert actual_cost(deployment(), Usage(1_000_000, 1_000_000)) == pytest.approx(0.75)
    assert actual_cost(deployment(), Usage(None, None)) == 0.0


# -- windows ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("window", "now", "start", "reset"), [
    ("daily", (2026, 12, 6, 15, 30), (2026, 12, 6), (2026, 12, 7)),
    ("daily", (2026, 12, 31, 23, 59, 59), (2026, 12, 31), (2027, 1, 1)),
    ("daily", (2027, 1, 1), (2027, 1, 1), (2027, 1, 2)),  # midnight itself starts the new day
    ("weekly", (2026, 12, 6, 23), (2026, 11, 30), (2026, 12, 7)),  # a Sunday: the week began Monday
    ("weekly", (2026, 12, 7), (2026, 12, 7), (2026, 12, 14)),  # Monday 00:00 starts a week
    ("weekly", (2026, 12, 31, 12), (2026, 12, 28), (2027, 1, 4)),  # across the year end
    ("monthly", (2026, 1, 31, 23, 59), (2026, 1, 1), (2026, 2, 1)),
    ("monthly", (2026, 2, 28, 12), (2026, 2, 1), (2026, 3, 1)),
    ("monthly", (2028, 2, 29, 12), (2028, 2, 1), (2028, 3, 1)),  # a leap day
    ("monthly", (2026, 4, 30, 23, 59, 59), (2026, 4, 1), (2026, 5, 1)),
    ("monthly", (2026, 12, 15), (2026, 12, 1), (2027, 1, 1)),
    ("30d", (2026, 12, 15), (2026, 12, 1), (2027, 1, 1)),
    ("1d", (2026, 12, 15, 8), (2026, 12, 15), (2026, 12, 16)),
])
def test_windows_are_utc_calendar_windows(window, now, start, reset):
    assert window_bounds(window, ts(*now)) == (ts(*start), ts(*reset))


def test_a_window_that_never_resets_and_a_bad_window():
    assert window_bounds("total", ts(2026, 12, 6)) == (0.0, float("inf"))
    with pytest.raises(ValueError, match="daily, weekly, monthly"):
        window_bounds("hourly", ts(2026, 12, 6))


# -- the ledger ---------------------------------------------------------------------------------------
def request(user: str = "alice", team: str | None = None, key: VirtualKey | None = None) -> GatewayRequest:
    return GatewayRequest("chat", {"model": "chat"}, key=key, user=user, team=team)


def test_concurrent_reservations_fill_a_budget_exactly_and_never_past_it():
    budget, amount, threads = 1.0, 0.01, 200
    ledger = BudgetLedger([BudgetRule("user", "alice", budget, "daily", "reject")])
    start = threading.Barrier(threads)
    admitted, refused, broken = [], [], []

    def run() -> None:
        start.wait()
        try:
            reservation = ledger.reserve(request(), amount)
        except BudgetExceededError as exc:
            refused.append(exc)
            return
        (row,) = ledger.snapshot()
        if row["spent"] + row["reserved"] > budget + 1e-12:
            broken.append(row)
        admitted.append(reservation)
        ledger.settle(reservation, amount)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not broken
    assert len(admitted) == int(budget / amount) == 100 and len(refused) == threads - 100
    (row,) = ledger.snapshot()
    assert row["spent"] == pytest.approx(budget) and row["spent"] <= budget and row["reserved"] == 0
    error = refused[0]
    assert (error.scope, error.scope_id, error.window, error.max_budget) == ("user", "alice", "daily", budget)
    assert error.status == 429 and error.resets_at > datetime.now(UTC)


def test_random_actual_costs_below_the_reservation_never_pass_the_budget():
    budget, amount = 0.5, 0.013
    ledger = BudgetLedger([BudgetRule("team", "*", budget, "monthly", "reject")])
    rng = random.Random(3)
    costs = [rng.uniform(0, amount) for _ in range(200)]
    start = threading.Barrier(len(costs))
    spent_ok = []

    def run(cost: float) -> None:
        start.wait()
        for _ in range(5):
            try:
                reservation = ledger.reserve(request(team="ml"), amount)
            except BudgetExceededError:
                return
            time.sleep(0)  # let other threads reserve while this one is "in flight"
            ledger.settle(reservation, cost)
            spent_ok.append(cost)

    workers = [threading.Thread(target=run, args=(c,)) for c in costs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    (row,) = ledger.snapshot()
    assert row["scope_id"] == "ml" and row["reserved"] == 0
    assert row["spent"] == pytest.approx(sum(spent_ok), abs=1e-6) and row["spent"] <= budget
    while True:  # what is left is used up to the last reservation that fits, and no further
        try:
            ledger.settle(ledger.reserve(request(team="ml"), amount), amount)
        except BudgetExceededError:
            break
    (row,) = ledger.snapshot()
    assert budget - amount < row["spent"] <= budget


def test_a_refusal_names_the_tightest_budget_and_reserves_nothing():
    ledger = BudgetLedger([BudgetRule("user", "*", 1.0, "daily", "reject"),
                           BudgetRule("team", "ml", 0.30, "weekly", "reject"),
                           BudgetRule("team", "ml", 0.50, "monthly", "reject")])
    first = ledger.reserve(request(team="ml"), 0.25)
    with pytest.raises(BudgetExceededError) as caught:
        ledger.reserve(request(team="ml"), 0.10)
    assert (caught.value.scope, caught.value.scope_id, caught.value.window) == ("team", "ml", "weekly")
    assert caught.value.spent == pytest.approx(0.25) and caught.value.reserved == pytest.approx(0.10)
    rows = {(r["scope"], r["window"]): r for r in ledger.snapshot()}
    assert all(r["reserved"] == pytest.approx(0.25) for r in rows.values())  # the refused one added nothing
    ledger.release(first)
    ledger.settle(first, 99.0)  # settling twice: the second does nothing
    assert all(r["spent"] == 0 and r["reserved"] == 0 for r in ledger.snapshot())
    assert ledger.applicable(request(user="bob", team="other")) == [(BudgetRule("user", "*", 1.0, "daily", "reject"),
                                                                      "bob")]


def test_alert_rules_let_requests_through_and_fire_once_per_window():
    clock = Clock(ts(2026, 12, 6, 10))
    alerts: list[dict] = []
    ledger = BudgetLedger([BudgetRule("project", "search", 0.10, "daily", "alert", line=12)], clock=clock,
                          on_alert=alerts.append)
    req = GatewayRequest("chat", {}, project="search")
    for _ in range(30):
        ledger.settle(ledger.reserve(req, 0.01), 0.01)
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert["scope"], alert["scope_id"], alert["window"], alert["line"]) == ("project", "search", "daily", 12)
    assert alert["spent"] == pytest.approx(0.10) and alert["resets_at"] == "2026-12-07T00:00:00Z"
    assert "search" in alert["message"]
    (row,) = ledger.snapshot()
    assert row["spent"] == pytest.approx(0.30)  # let through
    clock.now = ts(2026, 12, 7, 0, 0, 1)  # the next day: a new window, a new alert when crossed again
    for _ in range(30):
        ledger.settle(ledger.reserve(req, 0.01), 0.01)
    assert len(alerts) == 2 and alerts[1]["window_start"] == "2026-12-07T00:00:00Z"


def test_a_failing_alert_hook_does_not_fail_the_request():
    def hook(event: dict) -> None:
        raise RuntimeError("pager down")

    ledger = BudgetLedger([BudgetRule("user", "*", 0.0, "daily", "alert")], on_alert=hook)
    ledger.settle(ledger.reserve(request(), 0.5), 0.5)
    assert ledger.snapshot()[0]["spent"] == pytest.approx(0.5)


def test_a_reservation_settles_in_the_window_it_was_made_in():
    clock = Clock(ts(2026, 12, 6, 23, 59, 59))
    ledger = BudgetLedger([BudgetRule("user", "alice", 1.0, "daily", "reject")], clock=clock)
    reservation = ledger.reserve(request(), 0.9)
    clock.now = ts(2026, 12, 7, 0, 0, 1)
    (row,) = ledger.snapshot()
    assert row["reserved"] == 0 and row["window_start"] == "2026-12-07T00:00:00Z"
    ledger.settle(reservation, 0.9)  # counted for the day that ended, like its trace
    assert ledger.snapshot()[0]["spent"] == 0
    ledger.settle(ledger.reserve(request(), 1.0), 1.0)  # the whole new day's budget is there


def test_a_virtual_key_carries_its_own_budget():
    clock = Clock(ts(2026, 12, 6, 12))
    ledger = BudgetLedger([], clock=clock)
    forever = VirtualKey("key_1", max_budget=0.05)
    daily = VirtualKey("key_2", max_budget=0.05, budget_duration="daily")
    for key in (forever, daily):
        ledger.settle(ledger.reserve(request(key=key), 0.05), 0.05)
        with pytest.raises(BudgetExceededError, match="key 'key_"):
            ledger.reserve(request(key=key), 0.01)
    clock.now = ts(2026, 12, 7, 12)
    ledger.settle(ledger.reserve(request(key=daily), 0.05), 0.05)  # the daily one reset
    with pytest.raises(BudgetExceededError) as caught:
        ledger.reserve(request(key=forever), 0.01)
    assert caught.value.window == "total"
    resets = {r["scope_id"]: r["resets_at"] for r in ledger.snapshot()}
    assert resets == {"key_1": None, "key_2": "2026-12-08T00:00:00Z"}
    ledger.reserve(request(key=VirtualKey("key_3")), 100.0)  # no budget on the key, no rule: anything goes


def test_spend_is_seeded_from_the_gateway_spans_in_the_store():
    now = ts(2026, 12, 9, 12)  # a Wednesday
    rows = [  # (start, name, kind, attributes)
        (ts(2026, 12, 9, 8), "gateway chat", "CHAIN", {"gateway.cost_usd": 0.25, "user.id": "alice",
                                                       "gateway.team": "ml", "gateway.key_id": "key_a"}),
        (ts(2026, 12, 8, 8), "gateway messages", "CHAIN", {"gateway.cost_usd": 0.5, "user.id": "alice"}),
        (ts(2026, 12, 1, 8), "gateway chat", "CHAIN", {"gateway.cost_usd": 1.0, "user.id": "alice"}),  # last week
        (ts(2026, 11, 30, 8), "gateway chat", "CHAIN", {"gateway.cost_usd": 8.0, "user.id": "alice"}),  # last month
        (ts(2026, 12, 9, 9), "primary-openai", "CHAT_MODEL", {"llmops_nb.cost_usd": 7.0, "user.id": "alice"}),
        (ts(2026, 12, 9, 9), "gateway chat", "CHAIN", {"gateway.cost_usd": "oops", "user.id": "alice"}),
    ]
    import json

    with get_store().connect() as con:
        for i, (start, name, kind, attributes) in enumerate(rows):
            con.execute("INSERT INTO spans (trace_id, span_id, name, kind, start_ns, end_ns, status, attributes) "
                        "VALUES (?, ?, ?, ?, ?, ?, 'OK', ?)",
                        [f"{i:032x}", f"{i:016x}", name, kind, int(start * 1e9), int(start * 1e9) + 1,
                         json.dumps(attributes)])
    rules = [BudgetRule("user", "*", 5.0, "daily", "reject"), BudgetRule("user", "alice", 5.0, "weekly", "alert"),
             BudgetRule("user", "alice", 20.0, "monthly", "reject"), BudgetRule("team", "ml", 1.0, "daily", "reject")]
    spent = spent_from_store(rules, now)
    day, week, month = (window_bounds(w, now)[0] for w in ("daily", "weekly", "monthly"))
    assert spent == {("user", "alice", day): 0.25, ("user", "alice", week): 0.75,
                     ("user", "alice", month): 1.75, ("team", "ml", day): 0.25}
    ledger = BudgetLedger(rules, clock=Clock(now))
    ledger.seed(spent)
    got = {(r["scope"], r["scope_id"], r["window"]): r["spent"] for r in ledger.snapshot()}
    assert got == {("user", "alice", "weekly"): 0.75, ("user", "alice", "monthly"): 1.75,
                   ("team", "ml", "daily"): 0.25}
    with pytest.raises(BudgetExceededError, match="team 'ml'"):
        ledger.reserve(request(team="ml"), 0.8)
    keys = spent_from_store([], now, keys=[VirtualKey("key_a", max_budget=1.0)])
    assert keys == {("key", "key_a", 0.0): 0.25}


def test_reserve_and_settle_take_microseconds():
    ledger = BudgetLedger([BudgetRule("user", "*", 1e9, "daily", "reject"),
                           BudgetRule("team", "ml", 1e9, "monthly", "reject")])
    req, key_req = request(team="ml"), request(key=VirtualKey("key_x", max_budget=1e9))
    timings = []
    for i in range(2000):
        began = time.perf_counter()
        ledger.settle(ledger.reserve(req if i % 2 else key_req, 0.001), 0.0005)
        timings.append(time.perf_counter() - began)
    median_us = statistics.median(timings) * 1e6
    print(f"reserve+settle median {median_us:.1f} us")  # reported, not asserted (no timing assertions)


# -- rate limits --------------------------------------------------------------------------------------
def test_rpm_slides_over_sixty_seconds():
    clock = Clock(1000.0)
    limiter = RateLimiter(clock=clock)
    for step in range(3):
        clock.now = 1000.0 + step * 10
        limiter.admit("key:k1", 3, None, 100)
    clock.now = 1030.0
    assert limiter.try_admit("key:k1", 3, None, 100) == pytest.approx(30.0)  # the first leaves at 1060
    with pytest.raises(GatewayRateLimitError) as caught:
        limiter.admit("key:k1", 3, None, 100)
    error = caught.value
    assert (error.scope, error.scope_id, error.limit_name, error.limit) == ("key", "k1", "rpm", 3)
    assert error.retry_after == pytest.approx(30.0) and error.headers["Retry-After"] == "30"
    assert error.resets_at == datetime.fromtimestamp(1060.0, UTC)
    assert limiter.usage("key:k1") == (3, 300)  # the refused request was not counted
    clock.now = 1060.0
    assert limiter.try_admit("key:k1", 3, None, 100) is None
    limiter.admit("key:k1", 3, None, 100)
    assert limiter.usage("key:k1") == (3, 300)


def test_tpm_counts_estimates_then_actual_tokens():
    clock = Clock(0.0)
    limiter = RateLimiter(clock=clock)
    limiter.admit("user:ana", None, 1000, 600)
    with pytest.raises(GatewayRateLimitError) as caught:
        limiter.admit("user:ana", None, 1000, 600)
    assert caught.value.limit_name == "tpm" and caught.value.retry_after == pytest.approx(60.0)
    limiter.adjust("user:ana", 600, 150)  # the call used far less than its bound
    limiter.admit("user:ana", None, 1000, 600)
    assert limiter.usage("user:ana") == (2, 750)
    clock.now = 30.0
    limiter.admit("user:ana", None, 1000, 200)
    assert limiter.try_admit("user:ana", None, 1000, 400) == pytest.approx(30.0)  # once the first two leave
    assert limiter.try_admit("user:ana", None, 1000, 5000) == float("inf")  # over the limit on its own
    assert limiter.try_admit("user:new", None, 1000, 5000) == float("inf")
    assert limiter.try_admit("user:new", 10, 1000, 5) is None
    limiter.adjust("user:ana", 12345, 0)  # no such request: nothing changes
    limiter.adjust("user:nobody", 600, 0)
    clock.now = 200.0
    limiter.adjust("user:ana", 600, 0)  # long gone from the window
    assert limiter.usage("user:ana") == (0, 0)


def test_admit_all_counts_every_subject_or_none():
    clock = Clock(0.0)
    limiter = RateLimiter(clock=clock)
    limiter.admit("team:ml", 1, None, 10)
    with pytest.raises(GatewayRateLimitError) as caught:
        limiter.admit_all([("key:k1", 10, None), ("team:ml", 1, None), ("deployment:a", None, None)], 10)
    assert caught.value.scope == "team"
    assert limiter.usage("key:k1") == (0, 0)
    limiter.admit_all([("key:k1", 10, None), ("project:p", None, 100)], 10)
    assert limiter.usage("key:k1") == (1, 10) and limiter.usage("project:p") == (1, 10)


def test_the_limiter_forgets_idle_subjects_and_stays_exact_under_threads():
    clock = Clock(0.0)
    limiter = RateLimiter(clock=clock)
    for i in range(5000):
        limiter.admit(f"user:{i}", 5, None, 1)
    clock.now = 61.0
    for i in range(5000):  # crossing the sweep point drops the idle ones
        limiter.admit("user:busy", None, 10**9, 1)
    assert len(limiter._windows) < 5000
    shared = RateLimiter()
    start = threading.Barrier(100)
    refused = []

    def run() -> None:
        start.wait()
        try:
            shared.admit("key:hot", 50, None, 1)
        except GatewayRateLimitError:
            refused.append(1)

    workers = [threading.Thread(target=run) for _ in range(100)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(refused) == 50 and shared.usage("key:hot") == (50, 50)


# -- virtual keys ---------------------------------------------------------------------------------------
@pytest.mark.file_store
def test_keys_are_created_verified_listed_and_revoked_and_only_their_hash_is_stored(store_path):
    keys = KeyStore()
    plaintext, key = keys.create("ci", models=["chat"], rpm=60, tpm=10_000, max_budget=5.0, budget_duration="1d",
                                 user="ana", team="ml", project="search")
    assert plaintext.startswith(KEY_PREFIX) and len(plaintext) > 40 and key.key_id.startswith("key_")
    assert key.budget_duration == "daily" and key.models == ("chat",)
    fresh = KeyStore()  # another process's view: from the store, not a cache
    assert fresh.verify(plaintext) == key
    assert fresh.verify(plaintext + "x") is None and fresh.verify("not-ours") is None
    listed = keys.list()
    assert "key_hash" not in listed.columns and listed.key_id.tolist() == [key.key_id]
    assert listed.models.tolist() == [["chat"]] and not listed.revoked.any()
    other, other_key = keys.create()
    assert keys.revoke(key.key_id) is True and keys.revoke(key.key_id) is False
    assert keys.verify(plaintext).revoked  # this process knows at once
    with pytest.raises(LookupError, match=r"gw\.keys\.list"):
        keys.revoke("key_nope")
    assert keys.list().set_index("key_id").revoked.to_dict() == {key.key_id: True, other_key.key_id: False}
    assert keys.active() == [other_key]
    trail = audit(action="gateway.*").sort_values("seq")
    assert trail.action.tolist() == ["gateway.key_created", "gateway.key_created", "gateway.key_revoked",
                                     "gateway.key_revoked"]
    assert trail.details.tolist()[0] == {"key_id": key.key_id, "name": "ci", "models": ["chat"], "rpm": 60,
                                         "tpm": 10_000, "max_budget": 5.0, "budget_duration": "daily",
                                         "user": "ana", "team": "ml", "project": "search"}
    assert verify_audit().ok
    llmops_nb.flush()
    get_store().close()
    stored = store_path.read_bytes() + b"".join(p.read_bytes() for p in store_path.parent.glob("*.wal"))
    for secret in (plaintext, other):
        assert secret.encode() not in stored and secret[len(KEY_PREFIX):].encode() not in stored
        assert key_hash(secret).encode() in stored
        assert secret not in trail.to_string() and secret not in str(trail.details.tolist())


def test_a_revocation_by_another_process_applies_within_the_cache_time():
    clock = Clock(100.0)
    gateway_side, admin_side = KeyStore(clock=clock), KeyStore()
    plaintext, key = admin_side.create("temp")
    assert not gateway_side.verify(plaintext).revoked
    admin_side.revoke(key.key_id)
    assert not gateway_side.verify(plaintext).revoked  # cached
    clock.now += CACHE_TTL_S + 0.1
    assert gateway_side.verify(plaintext).revoked


@pytest.mark.parametrize(("field", "value"), [("rpm", 0), ("tpm", 1.5), ("max_budget", -1), ("max_budget", "5"),
                                              ("budget_duration", "hourly"), ("models", [1]), ("name", "")])
def test_bad_key_settings_are_refused_with_what_to_write(field, value):
    with pytest.raises(ValueError, match=field if field != "models" else "model names"):
        KeyStore().create(**{field: value})
