"""``Gateway``: one governed endpoint — authenticate, limit, reserve the budget, route, settle, trace.

Every request, from the in-kernel client or the server, goes through :meth:`Gateway.handle`, in
this order: the model name is known and the key may use it; the key's, user's, team's and
project's rpm/tpm admit it; the estimated **maximum** cost is reserved against every budget that
applies (so concurrent requests can never spend past a cap: reservation, not after-the-fact
accounting, is what keeps LiteLLM-style overshoot out); the attempt loop (:mod:`._attempts`)
tries deployments with retries, cooldowns and fallbacks; the reservation is settled with the
actual cost. Each request is one trace: a ``gateway <route>`` CHAIN span with one CHAT_MODEL /
EMBEDDING child per upstream attempt (names in /docs: "Gateway traces").

The core is async (the server's event loop runs it); the sync in-kernel client runs it on a private
loop of the calling thread (:mod:`._sync`); all share one router, one ledger, one limiter.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from .._safety import log_once
from ..tracing import Span, start_span
from ._attempts import Attempts, Ticket
from ._budgets import BudgetLedger, spent_from_store
from ._config import GatewayConfig, load_config, resolve_secret
from ._cost import input_tokens_upper, max_cost, max_output_tokens
from ._errors import (
    GatewayAuthError,
    GatewayError,
    GatewayForbiddenError,
    UnknownModelError,
)
from ._keys import KeyStore
from ._ratelimit import RateLimiter
from ._router import Router
from ._sync import SyncLoops
from ._types import Deployment, GatewayRequest, GatewayResponse, VirtualKey
from ._upstream import Upstream


class Gateway:
    """The gateway of one config. Build it with :func:`llmops_nb.gateway.load`.

    >>> gw = llmops_nb.gateway.load("gateway.yaml")          # doctest: +SKIP
    >>> client = gw.client()                                  # doctest: +SKIP
    >>> client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])  # doctest: +SKIP
    """

    def __init__(self, config: GatewayConfig, *, on_budget_alert: Callable[[dict[str, Any]], None] | None = None,
                 seed_spend: bool = True) -> None:
        self.config = config
        self.keys = KeyStore()
        self.limiter = RateLimiter()
        self.router = Router(config, admitted=self._deployment_admitted)
        self.ledger = BudgetLedger(config.budgets, on_alert=on_budget_alert or _log_alert)
        self.upstream = Upstream(self._provider_key)
        self._attempts = Attempts(self)
        self._sync = SyncLoops()
        self._master_key = resolve_secret(config.master_key_ref, config.secrets_file)
        self._rate_rules = [(r.scope, r.scope_id, r.rpm, r.tpm) for r in config.rate_limits]
        if seed_spend:
            self._seed_spend()

    # -- who is asking -----------------------------------------------------------------------------
    def authenticate(self, token: str | None) -> VirtualKey | None:
        """The master key → ``None`` (the owner); a valid virtual key → its :class:`VirtualKey`."""
        if not token:
            raise GatewayAuthError("no API key: send 'Authorization: Bearer <key>' (or 'x-api-key: <key>') with a "
                                   "virtual key from /key/generate or the master key")
        if self._master_key is not None and hmac.compare_digest(token.encode(), self._master_key.encode()):
            return None
        key = self.keys.verify(token)
        if key is None:
            raise GatewayAuthError("invalid API key: this gateway does not know it; ask the gateway's owner for a "
                                   "key (/key/generate with the master key)")
        if key.revoked:
            raise GatewayForbiddenError(f"key {key.key_id} was revoked; ask the gateway's owner for a new one",
                                        code="key_revoked")
        return key

    def model_names(self, key: VirtualKey | None = None) -> list[str]:
        """The model names this key may ask for (all of them for the owner)."""
        names = list(self.router.groups)
        return names if key is None or key.models is None else [n for n in names if n in key.models]

    # -- one request -------------------------------------------------------------------------------
    async def handle(self, request: GatewayRequest) -> GatewayResponse:
        """Answer one request, or raise a :class:`GatewayError` saying which rule refused it."""
        root = self._root_span(request)
        try:
            response = await self._handle(request, root)
        except BaseException as exc:
            _finish_rejected(root, exc)
            raise
        if response.stream is None:
            root.end()
        return response

    async def _handle(self, request: GatewayRequest, root: Span) -> GatewayResponse:
        group = request.model_name
        groups = self.router.groups
        if group not in groups:
            raise UnknownModelError(group, self.model_names(request.key))
        key = request.key
        if key is not None and key.models is not None and group not in key.models:
            raise GatewayForbiddenError(f"key {key.key_id} may not use model {group!r}; it may use "
                                        f"{', '.join(sorted(key.models)) or 'no model'}", code="model_not_allowed")
        _check_pii(request)
        route, body = request.route, request.body
        reachable = self._reachable(group)
        input_upper = input_tokens_upper(route, body)
        tokens = input_upper + max(max_output_tokens(route, body, d) for d in reachable)
        admitted = self._admit_rates(request, tokens)
        reserved = max(max_cost(route, body, d) for d in reachable)
        try:
            reservation = self.ledger.reserve(request, reserved)
        except BaseException:
            self._unadmit(admitted, tokens, 0)
            raise
        root.set_attribute("gateway.reserved_usd", reserved)
        return await self._attempts.run(request, Ticket(request, root, reservation, admitted, tokens))

    def _reachable(self, group: str) -> list[Deployment]:
        """Every deployment a request for ``group`` may end up on: the group and all its fallbacks."""
        settings, groups = self.config.router, self.router.groups
        seen, todo = {group}, [group]
        found: list[Deployment] = []
        while todo:
            name = todo.pop()
            found.extend(groups.get(name, ()))
            for table in (settings.fallbacks, settings.context_window_fallbacks, settings.content_policy_fallbacks):
                for nxt in table.get(name, ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
        return found

    # -- rate limits ---------------------------------------------------------------------------------
    def _admit_rates(self, request: GatewayRequest, tokens: int) -> list[str]:
        """Admit the request under every rpm/tpm that applies; the subjects it was counted against."""
        limits: list[tuple[str, int | None, int | None]] = []
        key = request.key
        if key is not None and (key.rpm or key.tpm):
            limits.append((f"key:{key.key_id}", key.rpm, key.tpm))
        for scope, scope_id, rpm, tpm in self._rate_rules:
            value = request.scope_value(scope)
            if value is not None and scope_id in ("*", value):
                limits.append((f"{scope}:{value}", rpm, tpm))
        self.limiter.admit_all(limits, tokens)  # all or none: a refusal leaves no slot taken
        return [subject for subject, _, _ in limits]

    def _unadmit(self, subjects: list[str], estimated: int, actual: int) -> None:
        for subject in subjects:
            self.limiter.adjust(subject, estimated, actual)

    def _deployment_admitted(self, d: Deployment, tokens: int) -> float | None:
        if d.rpm is None and d.tpm is None:
            return None
        return self.limiter.try_admit(f"deployment:{d.id}", d.rpm, d.tpm, tokens)

    # -- secrets -------------------------------------------------------------------------------------
    def _provider_key(self, d: Deployment) -> str | None:
        return resolve_secret(d.api_key_ref, self.config.secrets_file)

    # -- traces --------------------------------------------------------------------------------------
    def _root_span(self, request: GatewayRequest) -> Span:
        key = request.key
        attributes: dict[str, Any] = {"gateway.route": request.route, "gateway.model_group": request.model_name,
                                      "gateway.key_id": key.key_id if key else "owner",
                                      "gateway.stream": request.stream}
        if key is not None and key.name:
            attributes["gateway.key_name"] = key.name
        for name, value in (("user.id", request.user), ("gateway.team", request.team),
                            ("gateway.project", request.project)):
            if value is not None:
                attributes[name] = value
        parent = request.parent if request.parent is not None else True
        root = start_span(f"gateway {request.route}", "CHAIN", attributes, parent=parent)
        root.set_inputs(request.body)
        return root

    def _seed_spend(self) -> None:
        try:
            self.ledger.seed(spent_from_store(self.config.budgets, keys=self.keys.active()))
        except Exception as exc:  # noqa: BLE001 - a store that cannot be read must not stop the gateway
            log_once("gateway.seed_spend", exc, "llmops_nb gateway: the spend so far could not be read from the "
                     "store; budgets count from zero in this process")

    # -- in-kernel clients -------------------------------------------------------------------------
    def client(self, *, key: str | None = None, user: str | None = None, team: str | None = None,
               project: str | None = None, **options: Any) -> Any:
        """An ``openai.OpenAI`` whose requests go through this gateway, in this process.

        ``key``: a virtual key (its scopes, limits and budgets apply); none means the owner.
        Retries are the gateway's (``router_settings.num_retries``), so the client's own are off.
        """
        from ._transport import openai_client

        return openai_client(self, key=key, user=user, team=team, project=project, is_async=False, **options)

    def async_client(self, *, key: str | None = None, user: str | None = None, team: str | None = None,
                     project: str | None = None, **options: Any) -> Any:
        """``openai.AsyncOpenAI`` through this gateway (await it in the kernel's loop or any other)."""
        from ._transport import openai_client

        return openai_client(self, key=key, user=user, team=team, project=project, is_async=True, **options)

    def anthropic_client(self, *, key: str | None = None, user: str | None = None, team: str | None = None,
                         project: str | None = None, is_async: bool = False, **options: Any) -> Any:
        """``anthropic.Anthropic`` (or ``AsyncAnthropic``) through this gateway: ``/v1/messages``."""
        from ._transport import anthropic_client

        return anthropic_client(self, key=key, user=user, team=team, project=project, is_async=is_async,
                                **options)

    def serve(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> Any:
        """Serve this gateway over HTTP in the background (OpenAI and Anthropic routes); returns the server."""
        from ._server import serve

        return serve(self, host=host, port=port, **options)

    # -- reports -------------------------------------------------------------------------------------
    def usage(self, since: Any = "30d", until: Any = None, *, by: tuple[str, ...] = ("day", "key", "model")) -> Any:
        """Requests, tokens and spend per group, from the store (a DataFrame)."""
        from ._usage import usage

        return usage(since, until, by=by)

    def usage_chart(self, since: Any = "30d", until: Any = None, *, by: tuple[str, ...] = ("day", "key", "model"),
                    ) -> Any:
        """A plotly figure: spend and requests per day, and how much of each budget is burnt."""
        from ._usage import usage, usage_figure

        return usage_figure(usage(since, until, by=by), budgets=self.ledger.snapshot())

    def status(self) -> dict[str, Any]:
        """Deployments' health (cooldowns, in flight, latency) and budgets' state, now."""
        return {"deployments": self.router.status(), "budgets": self.ledger.snapshot()}

    # -- sync callers -----------------------------------------------------------------------------------
    def run_sync(self, coro: Any, loop: Any = None) -> Any:
        """Run a coroutine of this gateway to completion in this thread (its own loop; see ``_sync``)."""
        return self._sync.run(coro, loop)

    def sync_loop(self) -> Any:
        """The event loop sync calls from this thread run on."""
        return self._sync.loop()

    async def aclose(self) -> None:
        """Close the upstream connections of the running loop (an async caller's, or the server's)."""
        await self.upstream.aclose()

    def close(self) -> None:
        """Close upstream connections on every loop, and the sync callers' loops."""
        self.upstream.close()
        self._sync.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        budgets = len(self.config.budgets)
        return (f"<llmops_nb Gateway: {_count(len(self.router.groups), 'model')}, "
                f"{_count(len(self.config.deployments), 'deployment')}"
                f"{', ' + _count(budgets, 'budget') if budgets else ''}>")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _check_pii(request: GatewayRequest) -> None:
    """The store's PII policy may ``block`` a request holding some entity: before anything is sent."""
    if request.route == "embeddings":
        return
    from ..pii._errors import PiiBlockedError
    from ..pii._records import check_request

    try:
        check_request(request.body)
    except PiiBlockedError as exc:
        raise GatewayForbiddenError(str(exc), code="pii_blocked") from None


def _finish_rejected(root: Span, exc: BaseException) -> None:
    if isinstance(exc, GatewayError):
        root.set_attribute("gateway.status", "rejected" if exc.status in (401, 403, 404, 413, 429) else "failed")
        root.set_attribute("gateway.reject_reason", exc.code)
    root.record_exception(exc)
    root.end()


def _log_alert(alert: dict[str, Any]) -> None:
    log_once(f"gateway.budget_alert.{alert.get('scope')}.{alert.get('scope_id')}.{alert.get('window_start')}", None,
             f"llmops_nb gateway: budget alert — {alert.get('message', alert)}")


def load(config: Any, **options: Any) -> Gateway:
    """A :class:`Gateway` from a YAML file (LiteLLM's ``model_list``/``router_settings`` vocabulary) or a dict.

    >>> gw = load({"model_list": [{"model_name": "chat",
    ...            "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_API_KEY"}}]})
    ... # doctest: +SKIP
    """
    return Gateway(config if isinstance(config, GatewayConfig) else load_config(config), **options)
