"""``Model``: one model endpoint with retries, a concurrency limit, a cooldown and counters.

A ``Model`` is the unit an AI gateway composes: a router picking among
deployments, fallbacks, budgets and rate limits can wrap several ``Model``
objects behind the same ``chat``/``achat`` signature, read their ``stats``
(in flight, rate-limited calls, tokens) to decide, and reuse
:class:`~._retry.RetryPolicy` and :class:`~._limiter.Limiter`.

When the server answers 429 with ``Retry-After``, the whole model cools down:
every call to it — not only the one that was told — waits that long before its
next attempt, so a rate-limit storm is not fed by the other callers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

from .._errors import LlmopsError
from ..tracing import get_current_span
from ._limiter import Limiter
from ._providers import ChatResult, Provider, messages_of
from ._retry import Failure, RetryPolicy, classify, fix_hint
from ._uri import ModelSpec, parse_model_uri


class ModelCallError(LlmopsError, RuntimeError):
    """A model call failed for good: a non-retryable error, or retries used up. ``__cause__`` is the SDK error."""

    def __init__(self, message: str, *, uri: str, status: int | None, attempts: int) -> None:
        super().__init__(message)
        self.uri, self.status_code, self.attempts = uri, status, attempts


@dataclass
class ModelStats:
    """Counters since the model was created (read by tests, benchmarks and, later, routing)."""

    calls: int = 0
    attempts: int = 0
    retries: int = 0
    rate_limited: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0


class Model:
    """A chat model addressed by URI; sync ``chat`` and async ``achat``, both traced.

    >>> import llmops_nb
    >>> model = llmops_nb.get_model("openai:/llama3?base_url=http://127.0.0.1:8080/v1")  # doctest: +SKIP
    >>> model.chat("Name a sight in Paris.", max_tokens=20).text  # doctest: +SKIP
    'The Eiffel Tower.'
    """

    def __init__(self, spec: ModelSpec | str, **options: Any) -> None:
        self.spec = parse_model_uri(spec, **options) if isinstance(spec, str) else spec.with_options(**options)
        self.retry = RetryPolicy(max_retries=self.spec.max_retries, max_wait=self.spec.max_wait)
        self.limiter = Limiter(self.spec.max_concurrency)
        self.stats = ModelStats()
        self._provider = Provider(self.spec)
        self._cool_until = 0.0
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        return self.spec.uri

    def __repr__(self) -> str:
        return f"Model({self.uri!r})"

    # -- calls ---------------------------------------------------------------------------
    def chat(self, prompt: Any, *, system: str | None = None, **params: Any) -> ChatResult:
        """Send a prompt (string or messages) and return the reply; ``params`` go to the SDK.

        >>> get_model("local:/smollm2").chat("Say hi", max_tokens=8).text  # doctest: +SKIP
        'Hi there!'
        """
        if params.get("stream"):
            raise ValueError("Model.chat returns the whole reply; call it without stream=True.")
        body = self._provider.request(messages_of(prompt, system), params)
        self._count_call()
        attempt, started = 0, time.monotonic()
        while True:
            self._wait(self._cooldown_left())
            with self.limiter:
                self._enter()
                try:
                    result = self._provider.call(body)
                except Exception as exc:  # noqa: BLE001 - classified below; the SDK error is the cause
                    error, failure = exc, classify(exc)
                else:
                    return self._done(result, attempt)
                finally:
                    self._leave()
            delay = self._next_delay(failure, attempt, started, error)
            attempt += 1
            self._wait(delay)

    async def achat(self, prompt: Any, *, system: str | None = None, **params: Any) -> ChatResult:
        """``chat`` for coroutines: waits (for a slot, a cooldown, a retry) without blocking the loop.

        >>> reply = await get_model("anthropic:/claude-haiku-4-5").achat("Hi")  # doctest: +SKIP
        """
        if params.get("stream"):
            raise ValueError("Model.achat returns the whole reply; call it without stream=True.")
        body = self._provider.request(messages_of(prompt, system), params)
        self._count_call()
        attempt, started = 0, time.monotonic()
        while True:
            left = self._cooldown_left()
            if left > 0:
                await asyncio.sleep(left)
            async with self.limiter:
                self._enter()
                try:
                    result = await self._provider.call_async(body)
                except Exception as exc:  # noqa: BLE001
                    error, failure = exc, classify(exc)
                else:
                    return self._done(result, attempt)
                finally:
                    self._leave()
            delay = self._next_delay(failure, attempt, started, error)
            attempt += 1
            await asyncio.sleep(delay)

    # -- bookkeeping ---------------------------------------------------------------------
    def _next_delay(self, failure: Failure, attempt: int, started: float, exc: BaseException) -> float:
        """The wait before the next attempt, or raise ModelCallError when there is none."""
        stats = self.stats
        with self._lock:
            stats.rate_limited += failure.status == 429
        policy = self.retry
        give_up = not failure.retryable or attempt >= policy.max_retries
        delay = 0.0 if give_up else policy.delay(attempt, failure.retry_after)
        if not give_up and delay > policy.max_wait:
            give_up = True
        if give_up:
            with self._lock:
                stats.failures += 1
            raise ModelCallError(self._message(failure, attempt + 1, time.monotonic() - started, delay),
                                 uri=self.uri, status=failure.status, attempts=attempt + 1) from exc
        if failure.status == 429 and failure.retry_after:
            with self._lock:  # the whole model waits as long as the server asked
                self._cool_until = max(self._cool_until, time.monotonic() + failure.retry_after)
        with self._lock:
            stats.retries += 1
        span = get_current_span()
        if span is not None:  # the caller's span (an EVALUATOR, an app's step) shows why it took longer
            span.add_event("llmops_nb.model.retry", {"model": self.uri, "attempt": attempt + 1,
                                                     "reason": failure.description, "delay_s": round(delay, 3)})
        return delay

    def _message(self, failure: Failure, attempts: int, elapsed: float, delay: float) -> str:
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts over {elapsed:.1f} s"
        text = f"{self.uri}: {failure.description} after {tries}."
        if failure.retryable and delay > self.retry.max_wait:
            text += (f" The server asked to wait {delay:.0f} s, longer than max_wait={self.retry.max_wait:g} s "
                     "(raise it with ?max_wait= on the model URI).")
        return f"{text} {fix_hint(failure, self.uri, self.spec.timeout)}"

    def _cooldown_left(self) -> float:
        return self._cool_until - time.monotonic()

    @staticmethod
    def _wait(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def _count_call(self) -> None:
        with self._lock:
            self.stats.calls += 1

    def _enter(self) -> None:
        stats = self.stats
        with self._lock:
            stats.attempts += 1
            stats.in_flight += 1
            stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.stats.in_flight -= 1

    def _done(self, result: ChatResult, attempt: int) -> ChatResult:
        result.attempts = attempt + 1
        with self._lock:
            self.stats.input_tokens += result.input_tokens or 0
            self.stats.output_tokens += result.output_tokens or 0
        return result

    def close(self) -> None:
        """Close the sync SDK clients' connections (a new call reopens them)."""
        self._provider.close()

    async def aclose(self) -> None:
        """Close this event loop's async client; call it before a loop you ran ``achat`` on ends.

        >>> async def main():
        ...     model = get_model("openai:/gpt-4.1-mini")
        ...     try:
        ...         return (await model.achat("Hi")).text
        ...     finally:
        ...         await model.aclose()
        """
        await self._provider.aclose()


_models: dict[ModelSpec, Model] = {}
_models_lock = threading.Lock()


def get_model(model: str | Model, **options: Any) -> Model:
    """The shared :class:`Model` for a URI (one per endpoint and options, so limits are shared).

    ``options`` override the URI's query string: ``timeout``, ``max_retries``,
    ``max_concurrency``, ``max_wait``, ``base_url``, ``api_key_env``.

    >>> import llmops_nb
    >>> judge = llmops_nb.get_model("openai:/gpt-4.1-mini", max_concurrency=8)  # doctest: +SKIP
    >>> judge.chat("Reply with OK").text  # doctest: +SKIP
    'OK'
    """
    if isinstance(model, Model):
        return model if not options else get_model(model.spec.with_options(**options).uri)
    spec = parse_model_uri(model, **options)
    with _models_lock:
        found = _models.get(spec)
        if found is None:
            found = _models[spec] = Model(spec)
        return found


def forget_models() -> None:
    """Drop the shared models (tests; or after changing API keys in the environment)."""
    with _models_lock:
        models = list(_models.values())
        _models.clear()
    for model in models:
        model.close()
