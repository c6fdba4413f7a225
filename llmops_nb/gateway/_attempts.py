"""The attempt loop of one request: deployments tried with retries, backoff, cooldowns and fallbacks.

Order, per group of the router's plan (the requested group, then its ``fallbacks``): pick a
deployment (strategy, not cooling down, under its rpm/tpm); on a retryable failure (429, 5xx,
timeout, connection) try another deployment of the group at once, or — none left — wait the
backoff (exponential with jitter; a ``Retry-After`` is never undercut) and try again, up to
``num_retries`` retries; then the next group. A prompt too long for a deployment goes to
``context_window_fallbacks``, a content-policy refusal to ``content_policy_fallbacks``; a bad
request (other 4xx) is final, because it would fail the same everywhere.

A stream is retried only until it opens: once a byte reached the client, a failure is the
client's to see (as it would be without the gateway). Each attempt is a child span of the
request's root, so the trace shows every deployment tried, its status and its wait.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._safety import log_once
from ..models._retry import RetryPolicy
from ..tracing import Span, start_span
from . import _translate as tr
from ._answer_stream import SettlingStream, StreamAttempt, usage_attributes
from ._cost import actual_cost, input_tokens_upper, max_output_tokens
from ._errors import GatewayError, GatewayRateLimitError, NoDeploymentError, UpstreamError
from ._router import Step
from ._types import Deployment, GatewayRequest, GatewayResponse, Route, UpstreamFailure, Usage

if TYPE_CHECKING:
    from ._budgets import Reservation
    from ._gateway import Gateway

#: (the response, the deployment that answered, its usage — complete once a stream has ended, and a
#: stream's attempt, which must be closed even when the stream is never read)
_Answer = tuple[GatewayResponse, Deployment, Callable[[], Usage], "StreamAttempt | None"]
_MAX_WAIT_S = 60.0  # never sleep longer than this for one retry; beyond it the next group is tried
#: A request that finds every deployment of a group cooling down (for other requests' failures) goes to
#: the group's fallbacks at once, as LiteLLM's router does; with none left it waits this long at most,
#: and past that gets a 503 with Retry-After.
_MAX_COOLDOWN_WAIT_S = 5.0
_MAX_RACES = 100  # re-picks after losing a deployment's last rpm/tpm slot to a concurrent request


@dataclass
class Ticket:
    """What a request holds while it runs: its trace, its budget reservation, the rate limits it counts in."""

    request: GatewayRequest
    root: Span
    reservation: Reservation
    admitted: list[str]   # rate-limit subjects it was counted against
    tokens: int           # the tokens it was counted for (estimated; corrected when it ends)

    @property
    def budgeted(self) -> bool:
        """A budget holds this request: the output bound it reserved must also be sent upstream."""
        return self.reservation.budgeted


class _Outcome:
    """How a request went, for the root span and the budget: filled as attempts happen."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, str]] = []  # (deployment id, "ok" | failure kind)
        self.groups: list[str] = []
        self.last: UpstreamFailure | None = None
        self.soonest = float("inf")


class Attempts:
    """Runs requests for one gateway (its router, upstream, ledger and limiter)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        settings = gateway.config.router
        self.num_retries = settings.num_retries
        self.policy = RetryPolicy(max_retries=settings.num_retries, base_delay=max(settings.retry_after, 0.05),
                                  max_delay=10.0, max_wait=_MAX_WAIT_S)

    async def run(self, request: GatewayRequest, ticket: Ticket) -> GatewayResponse:
        root = ticket.root
        outcome = _Outcome()
        try:
            response, d, usage_of, attempt = await self._try_groups(ticket, outcome)
        except BaseException as exc:
            self._settle(ticket, 0.0, 0)
            _root_outcome(root, outcome)
            if isinstance(exc, UpstreamFailure):
                raise _final_error(outcome) from None
            raise
        _root_outcome(root, outcome)
        root.set_attribute("gateway.deployment", d.id)
        response.headers.update({"x-llmops-deployment": d.id, "x-llmops-trace-id": root.trace_id,
                                 "x-llmops-attempts": str(len(outcome.attempts))})
        if response.stream is None:
            self._finish(ticket, d, usage_of(), response.body)
            return response
        assert attempt is not None  # a stream always comes with its attempt
        response.stream = SettlingStream(response.stream, attempt,
                                    lambda chunks, failed: self._stream_finished(ticket, d, usage_of, chunks, failed))
        return response

    # -- groups and deployments ----------------------------------------------------------------------
    async def _try_groups(self, ticket: Ticket, outcome: _Outcome) -> _Answer:
        request, router = ticket.request, self.gw.router
        steps = deque(router.plan(request.model_name, estimated_tokens(request.route, request.body)))
        if not steps:
            raise GatewayError(
                f"the prompt (~{estimated_tokens(request.route, request.body)} tokens) is longer than every deployment "
                f"of {request.model_name!r} takes, and it has no context_window_fallbacks: shorten it or add one",
                status=400, code="context_length_exceeded")
        tried: set[str] = set()
        while steps:
            step = steps.popleft()
            if step.group in tried:
                continue
            tried.add(step.group)
            outcome.groups.append(step.group)
            try:
                return await self._try_group(step.group, ticket, outcome, can_fall_back=bool(steps))
            except UpstreamFailure as failure:
                extra = router.fallbacks_for(step.group, failure.kind)
                steps.extendleft(reversed([Step(g, failure.kind) for g in extra if g not in tried]))
                if failure.kind == "client":
                    raise  # the request itself is wrong: every other deployment would refuse it too
        raise outcome.last or UpstreamFailure("server", "no deployment could be tried")

    async def _try_group(self, group: str, ticket: Ticket, outcome: _Outcome, *, can_fall_back: bool) -> _Answer:
        request, router = ticket.request, self.gw.router
        tokens = estimated_tokens(request.route, request.body)
        exclude: set[str] = set()
        retries = races = 0
        while True:
            d, wait = router.pick(group, tokens, frozenset(exclude))
            if d is not None and not self._take_slot(d, request) and races < _MAX_RACES:
                races += 1  # another request took its last rpm/tpm slot since the pick: pick again
                continue
            if d is None:
                backing_off = bool(exclude)
                if backing_off:  # every deployment failed once this round: back off, then all are candidates again
                    wait = self.policy.delay(retries - 1, outcome.last.retry_after if outcome.last else None)
                    exclude.clear()
                outcome.soonest = min(outcome.soonest, wait)
                # a cooldown is waited out only when nothing else can answer: a fallback answers now
                limit = _MAX_WAIT_S if backing_off else 0.0 if can_fall_back else _MAX_COOLDOWN_WAIT_S
                if retries > self.num_retries or wait > min(limit, self.gw.config.router.timeout):
                    raise outcome.last or UpstreamFailure(
                        "server", f"every deployment of {group!r} is cooling down or at its rpm/tpm limit",
                        retry_after=None if wait == float("inf") else wait)
                ticket.root.add_event("gateway.wait", {"seconds": round(wait, 4), "group": group,
                                                       "reason": "backoff" if backing_off else "cooldown"})
                await asyncio.sleep(wait)
                continue
            try:
                return await self._attempt(d, request, ticket.root, outcome, budgeted=ticket.budgeted)
            except UpstreamFailure as failure:
                outcome.last = failure
                if not failure.retryable or failure.kind == "auth":
                    raise
                retries += 1
                if retries > self.num_retries:
                    raise
                exclude.add(d.id)

    def _take_slot(self, d: Deployment, request: GatewayRequest) -> bool:
        """Count the request against the deployment's rpm/tpm (the pick only asked whether it fits)."""
        if d.rpm is None and d.tpm is None:
            return True
        try:
            self.gw.limiter.admit(f"deployment:{d.id}", d.rpm, d.tpm, _deployment_tokens(request, d))
        except GatewayRateLimitError:
            return False
        return True

    async def _attempt(self, d: Deployment, request: GatewayRequest, root: Span, outcome: _Outcome, *,
                       budgeted: bool) -> _Answer:
        route, body = request.route, request.body
        upstream_route, upstream_body = _to_upstream(route, body, d, budgeted)
        span = start_span(d.id, "EMBEDDING" if route == "embeddings" else "CHAT_MODEL",
                          {"gateway.deployment": d.id, "gen_ai.request.model": d.model, "gen_ai.system": d.provider},
                          parent=root)
        router = self.gw.router
        router.started(d)
        started = time.perf_counter()
        try:
            if request.stream:
                opened = await self.gw.upstream.open_stream(d, upstream_route, upstream_body)
                router.succeeded(d, time.perf_counter() - started)  # time to the first byte
                outcome.attempts.append((d.id, "ok"))
                events = _from_upstream_stream(route, d, opened.events(), request)
                attempt = StreamAttempt(span, opened)
                return GatewayResponse(stream=attempt.wrap(events)), d, lambda: opened.usage, attempt
            raw, usage = await self.gw.upstream.send(d, upstream_route, upstream_body)
        except UpstreamFailure as failure:
            cooled = router.failed(d, failure.kind, failure.retry_after)
            outcome.attempts.append((d.id, failure.kind))
            span.set_attributes({"gateway.failure": failure.kind, "gateway.cooldown": cooled})
            if failure.status is not None:
                span.set_attribute("http.response.status_code", failure.status)
            span.set_status("ERROR", failure.message)
            span.end()
            raise
        except BaseException as exc:
            router.failed(d, "server", None)
            span.record_exception(exc)
            span.end()
            raise
        router.succeeded(d, time.perf_counter() - started)
        outcome.attempts.append((d.id, "ok"))
        usage_attributes(span, d, usage)
        span.set_outputs(raw)
        span.end()
        return GatewayResponse(body=_from_upstream(route, d, raw, request.model_name)), d, lambda: usage, None

    # -- settling -------------------------------------------------------------------------------------
    def _finish(self, ticket: Ticket, d: Deployment, usage: Usage, outputs: Any) -> None:
        root = ticket.root
        # unknown output (not reported, or a stream cut off): count what was reserved, never less than was spent
        cost = actual_cost(d, usage) if usage.output_tokens is not None else ticket.reservation.amount
        used = (usage.input_tokens or 0) + (usage.output_tokens or 0)
        self._settle(ticket, cost, used)
        if d.rpm is not None or d.tpm is not None:
            self.gw.limiter.adjust(f"deployment:{d.id}", _deployment_tokens(ticket.request, d), used)
        root.set_attributes({"gateway.cost_usd": cost, "gateway.input_tokens": usage.input_tokens or 0,
                             "gateway.output_tokens": usage.output_tokens or 0, "gateway.status": "ok"})
        if outputs is not None:
            root.set_outputs(outputs)
        root.end()

    def _settle(self, ticket: Ticket, cost: float, used: int) -> None:
        try:
            self.gw.ledger.settle(ticket.reservation, cost)
        except Exception as exc:  # noqa: BLE001 - an answered request must reach its caller
            log_once("gateway.settle", exc, "llmops_nb gateway: a budget could not be settled")
        self.gw._unadmit(ticket.admitted, ticket.tokens, used)

    def _stream_finished(self, ticket: Ticket, d: Deployment, usage_of: Callable[[], Usage], chunks: int,
                         failed: BaseException | None) -> None:
        usage = usage_of()  # complete now; cut off mid-stream, its tokens are unknown and the reservation counts
        root = ticket.root
        root.set_attribute("gateway.stream_events", chunks)
        if failed is not None:
            root.set_attribute("gateway.status", "failed")
            root.record_exception(failed)
        self._finish(ticket, d, usage, None)


def _root_outcome(root: Span, outcome: _Outcome) -> None:
    root.set_attributes({"gateway.attempts": len(outcome.attempts),
                         "gateway.fallback_from": outcome.groups[:-1],
                         "gateway.tried": [f"{d}:{result}" for d, result in outcome.attempts]})


def _final_error(outcome: _Outcome) -> GatewayError:
    """What the client is told when no attempt succeeded: the upstream's own error when it was final."""
    last = outcome.last
    if last is not None and last.kind in ("client", "context_window", "content_policy", "auth"):
        return UpstreamError.from_failure(last, deployment=outcome.attempts[-1][0] if outcome.attempts else None)
    retry_after = None if outcome.soonest == float("inf") else outcome.soonest
    reasons = [(d, result if last is None or result != last.kind else f"{result}: {last.message}")
               for d, result in outcome.attempts]
    return NoDeploymentError(" → ".join(outcome.groups), reasons, retry_after=retry_after)


# -- protocols ---------------------------------------------------------------------------------------
def _to_upstream(route: Route, body: dict[str, Any], d: Deployment, budgeted: bool) -> tuple[Route, dict[str, Any]]:
    if d.params:
        body = {**d.params, **body}
    if budgeted and route != "embeddings" and body.get("max_tokens") is None \
            and body.get("max_completion_tokens") is None:
        # the budget reserved this many output tokens: the upstream must not be free to write more
        body = {**body, "max_tokens": max_output_tokens(route, body, d)}
    if route == "chat" and d.protocol == "anthropic":
        return "messages", tr.chat_to_messages(body)
    if route == "messages" and d.protocol == "openai":
        return "chat", tr.messages_to_chat(body)
    return route, body


def _from_upstream(route: Route, d: Deployment, raw: dict[str, Any], model_name: str) -> dict[str, Any]:
    if route == "chat" and d.protocol == "anthropic":
        return tr.messages_response_to_chat(raw, model_name)
    if route == "messages" and d.protocol == "openai":
        return tr.chat_response_to_messages(raw, model_name)
    return raw


def _from_upstream_stream(route: Route, d: Deployment, events: AsyncIterator[bytes], request: GatewayRequest,
                          ) -> AsyncIterator[bytes]:
    model_name = request.model_name
    if route == "chat" and d.protocol == "anthropic":
        options = request.body.get("stream_options")
        include_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
        return tr.messages_stream_to_chat(events, model_name, include_usage=include_usage)
    if route == "messages" and d.protocol == "openai":
        return tr.chat_stream_to_messages(events, model_name)
    return events


def estimated_tokens(route: Route, body: dict[str, Any]) -> int:
    """A realistic token count of the prompt, for the context-window decision (not for budgets, which
    use a safe upper bound): ~4 ASCII characters a token, one a token for other scripts."""
    text = _text_of(body.get("input") if route == "embeddings" else
                    [body.get("system"), body.get("messages"), body.get("tools")])
    if text.isascii():
        return (len(text) + 3) // 4
    other = (len(text.encode("utf-8", "surrogatepass")) - len(text)) // 2  # most other scripts: 3 bytes a char
    return (len(text) - other + 3) // 4 + other


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(_text_of(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return " ".join(_text_of(v) for v in value)
    return ""


def _deployment_tokens(request: GatewayRequest, d: Deployment) -> int:
    return input_tokens_upper(request.route, request.body) + max_output_tokens(request.route, request.body, d)
