"""The contenders of ``gateway_bench.py``, each built inside its own worker process (``benchmarks/_worker.py``).

Every contender answers the same operations over the worker's pipe:

- ``latency(calls)``: that many sequential non-streamed chat completions; ns per call, and the
  process's CPU ns over them all;
- ``throughput(tasks, per_task)``: ``tasks`` coroutines each doing ``per_task`` streamed completions
  one after the other (every stream read to its end and checked: all its content chunks arrived);
- ``overshoot(requests, tag, trial)``: that many completions at once against a fresh $``BUDGET``
  budget; how many were answered (each one costs the upstream ``COST_PER_REQUEST``) and what the
  others raised. (``LitellmRouter.overshoot_global``: the same against ``litellm.max_budget``.)

One event loop per worker serves every async operation: LiteLLM caches its async HTTP clients
across calls, and those belong to the loop that made them. Settings come from the environment the
driver gives each worker (``BENCH_*``), so the contender classes stay small.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import time
from pathlib import Path
from typing import Any

from benchmarks._fake_upstream import CHUNKS, COMPLETION_TOKENS

MESSAGES = [{"role": "user", "content": "Say ten words, please."}]
MAX_TOKENS = COMPLETION_TOKENS  # every answer uses them all: the reservation is exactly the cost
OUTPUT_COST = 0.001             # USD per output token (input tokens free): a request costs one cent
COST_PER_REQUEST = COMPLETION_TOKENS * OUTPUT_COST
BUDGET = 0.5                    # USD: room for exactly 50 requests


class _Contender:
    """The timing loops; a subclass says how one sync call, one stream and one budgeted call are made."""

    model = "chat"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.loop = asyncio.new_event_loop()
        self.setup()

    def setup(self) -> None:
        raise NotImplementedError

    def call(self) -> None:
        raise NotImplementedError

    async def stream(self) -> int:
        """One streamed completion read to its end; the number of content chunks it carried."""
        raise NotImplementedError

    async def budgeted(self, tag: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no budget to test")

    # -- operations ------------------------------------------------------------------------------
    def latency(self, calls: int) -> dict[str, Any]:
        """Wall ns of each call, and the process's CPU ns over them all (every thread: trace writer too)."""
        call, clock, out = self.call, time.perf_counter_ns, []
        cpu = time.process_time_ns()
        for _ in range(calls):
            start = clock()
            call()
            out.append(clock() - start)
        return {"ns": out, "cpu_ns": time.process_time_ns() - cpu}

    def throughput(self, tasks: int, per_task: int) -> dict[str, Any]:
        return self.loop.run_until_complete(self._throughput(tasks, per_task))

    async def _throughput(self, tasks: int, per_task: int) -> dict[str, Any]:
        errors: collections.Counter[str] = collections.Counter()

        async def one() -> None:
            try:
                chunks = await self.stream()
            except Exception as exc:
                errors[type(exc).__name__] += 1
            else:
                if chunks != CHUNKS:
                    errors[f"{chunks} content chunks instead of {CHUNKS}"] += 1

        async def task() -> None:
            for _ in range(per_task):
                await one()

        await asyncio.gather(*(one() for _ in range(tasks)))  # warm: one connection per task
        errors.clear()
        start = time.perf_counter()
        await asyncio.gather(*(task() for _ in range(tasks)))
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "requests": tasks * per_task, "errors": dict(errors)}

    def overshoot(self, requests: int, tag: str, trial: int = 0) -> dict[str, Any]:
        """``tag`` names a budget nobody has spent from yet (a fresh user, router or deployment per trial)."""
        self.trial = trial
        return self.loop.run_until_complete(self._overshoot(requests, tag))

    async def _overshoot(self, requests: int, tag: str) -> dict[str, Any]:
        results = await asyncio.gather(*(self.budgeted(tag) for _ in range(requests)), return_exceptions=True)
        refused = collections.Counter(f"{type(r).__name__}: {str(r)[:160]}" for r in results
                                      if isinstance(r, BaseException))
        answered = sum(1 for r in results if not isinstance(r, BaseException))
        return {"requests": requests, "answered": answered, "refused": dict(refused.most_common(3)),
                "settled_usd": answered * COST_PER_REQUEST, **self.budget_state(tag)}

    def budget_state(self, tag: str) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        self.loop.close()


class _OpenAIClients(_Contender):
    """Contenders reached through an ``openai.OpenAI`` (``self.client``) and ``AsyncOpenAI`` (``self.aclient``)."""

    client: Any
    aclient: Any

    def call(self) -> None:
        self.client.chat.completions.create(model=self.model, messages=MESSAGES, max_tokens=MAX_TOKENS)

    async def stream(self) -> int:
        answer = await self.aclient.chat.completions.create(model=self.model, messages=MESSAGES,
                                                            max_tokens=MAX_TOKENS, stream=True)
        return sum([1 async for c in answer if c.choices and c.choices[0].delta.content])


class Sdk(_OpenAIClients):
    """The openai SDK against ``BENCH_BASE_URL``: the fake itself (direct), our server, or LiteLLM's Proxy."""

    def setup(self) -> None:
        import openai

        self.model = os.environ["BENCH_MODEL"]
        options = {"base_url": os.environ["BENCH_BASE_URL"], "api_key": os.environ["BENCH_API_KEY"], "max_retries": 0,
                   "default_headers": json.loads(os.environ.get("BENCH_HEADERS", "{}"))}
        # the Proxy's budgets are per deployment: one model group per trial ("budgeted-{trial}")
        self.budget_model = os.environ.get("BENCH_BUDGET_MODEL", self.model)
        self.trial = 0
        self.client = openai.OpenAI(**options)
        self.aclient = self.loop.run_until_complete(_make_async(openai.AsyncOpenAI, options))

    async def budgeted(self, tag: str) -> None:
        await self.aclient.chat.completions.create(model=self.budget_model.format(trial=self.trial), messages=MESSAGES,
                                                   max_tokens=MAX_TOKENS, user=f"overshoot-{tag}")

    def close(self) -> None:
        self.client.close()
        self.loop.run_until_complete(self.aclient.close())
        super().close()


class Ours(_OpenAIClients):
    """``llmops_nb.gateway`` in this process: ``gw.client()`` (sync, on the calling thread's own loop) and
    ``gw.async_client()``."""

    def setup(self) -> None:
        import llmops_nb
        import llmops_nb.gateway

        self.llmops_nb = llmops_nb
        llmops_nb.configure(db=str(self.workdir / "gateway.duckdb"))  # traces written as in real use
        self.gw = llmops_nb.gateway.load(json.loads(os.environ["BENCH_GATEWAY_CONFIG"]))
        self.client = self.gw.client(project="bench")
        self.aclient = self.loop.run_until_complete(_make_async(self.gw.async_client, {"project": "bench"}))
        self.budget_clients: dict[str, Any] = {}

    async def budgeted(self, tag: str) -> None:
        client = self.budget_clients.get(tag)
        if client is None:
            client = self.budget_clients[tag] = self.gw.async_client(user=f"overshoot-{tag}")
        await client.chat.completions.create(model=self.model, messages=MESSAGES, max_tokens=MAX_TOKENS)

    def budget_state(self, tag: str) -> dict[str, Any]:
        rows = [r for r in self.gw.ledger.snapshot() if r["scope_id"] == f"overshoot-{tag}"]
        return {"ledger": [{k: r[k] for k in ("scope", "scope_id", "spent", "reserved", "max_budget")} for r in rows]}

    def stored(self) -> dict[str, Any]:
        """Traces actually written: the gateway's root spans in the store (after a flush)."""
        self.llmops_nb.flush(timeout=60)
        frame = self.llmops_nb.sql("SELECT count(*) AS n FROM spans WHERE name = 'gateway chat'")
        return {"gateway_spans": int(frame["n"][0])}

    def close(self) -> None:
        self.client.close()
        for client in [self.aclient, *self.budget_clients.values()]:
            self.loop.run_until_complete(client.close())
        self.loop.run_until_complete(self.gw.aclose())
        self.gw.close()
        self.llmops_nb.flush(timeout=60)
        super().close()


class LitellmRouter(_Contender):
    """``litellm.Router(model_list=...)`` in this process: ``.completion()`` and ``.acompletion(stream=True)``."""

    def setup(self) -> None:
        import litellm

        self.litellm = litellm
        self.model_list = json.loads(os.environ["BENCH_LITELLM_MODEL_LIST"])
        self.router = litellm.Router(model_list=self.model_list)
        self.budget_routers: dict[str, Any] = {}

    def call(self) -> None:
        self.router.completion(model=self.model, messages=MESSAGES, max_tokens=MAX_TOKENS)

    async def stream(self) -> int:
        answer = await self.router.acompletion(model=self.model, messages=MESSAGES, max_tokens=MAX_TOKENS, stream=True)
        return sum([1 async for c in answer if c.choices and c.choices[0].delta.content])

    async def budgeted(self, tag: str) -> None:
        """The Router's own budget, per deployment (``litellm_params.max_budget`` + ``budget_duration``):
        in memory, no database; spend is added by a success callback after each call."""
        router = self.budget_routers.get(tag)
        if router is None:  # built on the running loop: its budget limiter starts a task there
            budgeted = [{**entry, "litellm_params": {**entry["litellm_params"], "max_budget": BUDGET,
                                                      "budget_duration": "1d"},
                         "model_info": {**entry.get("model_info", {}), "id": f"budgeted-{tag}"}}
                        for entry in self.model_list]
            router = self.budget_routers[tag] = self.litellm.Router(model_list=budgeted)
        await router.acompletion(model=self.model, messages=MESSAGES, max_tokens=MAX_TOKENS)

    def overshoot_global(self, requests: int) -> dict[str, Any]:
        """LiteLLM's SDK-wide budget: ``litellm.max_budget``, checked against ``litellm._current_cost``."""
        litellm = self.litellm
        entry = self.model_list[0]["litellm_params"]
        key = os.environ[entry["api_key"].removeprefix("os.environ/")]

        async def one() -> None:
            await litellm.acompletion(model=entry["model"], api_base=entry["api_base"], api_key=key, messages=MESSAGES,
                                      max_tokens=MAX_TOKENS, input_cost_per_token=0, output_cost_per_token=OUTPUT_COST)

        async def all_at_once() -> list[Any]:
            return await asyncio.gather(*(one() for _ in range(requests)), return_exceptions=True)

        litellm.max_budget, litellm._current_cost = BUDGET, 0.0
        try:
            results = self.loop.run_until_complete(all_at_once())
            counted = litellm._current_cost
        finally:
            litellm.max_budget, litellm._current_cost = 0.0, 0.0
        refused = collections.Counter(type(r).__name__ for r in results if isinstance(r, BaseException))
        answered = sum(1 for r in results if not isinstance(r, BaseException))
        return {"requests": requests, "answered": answered, "refused": dict(refused),
                "settled_usd": answered * COST_PER_REQUEST, "litellm_current_cost": counted}


async def _make_async(factory: Any, options: dict[str, Any]) -> Any:
    """Build an async client on the worker's loop (its connection pool then belongs to that loop)."""
    return factory(**options)


CONTENDERS = {"direct": Sdk, "ours_server": Sdk, "litellm_proxy": Sdk, "ours": Ours, "litellm_router": LitellmRouter}
