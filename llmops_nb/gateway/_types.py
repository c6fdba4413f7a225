"""The gateway's shared shapes: a deployment, a request, a response, a virtual key, an upstream failure.

Every module of the gateway speaks in these, so the router, the governance checks, the server and
the in-kernel transport agree without importing each other. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

#: What a request asks for: OpenAI chat completions, OpenAI embeddings, Anthropic messages.
Route = Literal["chat", "embeddings", "messages"]
#: What a budget or a rate limit applies to (GatewayRequest.scope_value says the request's value).
SCOPES = ("key", "user", "team", "project")
#: The wire protocol a deployment speaks (``local`` and OpenAI-compatible servers speak ``openai``).
Protocol = Literal["openai", "anthropic"]


@dataclass(frozen=True)
class Deployment:
    """One upstream model behind a public ``model_name`` (LiteLLM's ``model_list`` entry)."""

    model_name: str                 # the name clients ask for; several deployments may share it
    id: str                         # model_info.id, else "<model_name>#<index in model_list>"
    provider: str                   # "openai" | "anthropic" | "local" (the offline model)
    model: str                      # the upstream's own model id (after "provider/")
    protocol: Protocol
    api_base: str | None = None     # None: the provider's default (local: asked of the local model's server)
    api_key_ref: str | None = None  # "os.environ/NAME" | "secrets/NAME" | None; resolved per call, never stored
    rpm: int | None = None
    tpm: int | None = None
    weight: float = 1.0
    order: int | None = None
    timeout: float = 600.0
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None
    input_cost_per_token: float | None = None   # None: from llmops_nb's price table, else 0 (unknown price)
    output_cost_per_token: float | None = None
    params: dict[str, Any] = field(default_factory=dict)  # default request params (max_tokens, temperature …)
    line: int | None = None         # its line in the YAML file, for errors


@dataclass(frozen=True)
class VirtualKey:
    """A key the gateway issued; only its hash is stored. ``None`` limits mean no limit."""

    key_id: str                     # public id, e.g. "key_3f9a…" (in traces and errors; not a secret)
    name: str | None = None
    models: tuple[str, ...] | None = None   # allowed model_names; None = all
    rpm: int | None = None
    tpm: int | None = None
    max_budget: float | None = None
    budget_duration: str | None = None      # daily | weekly | monthly
    user: str | None = None
    team: str | None = None
    project: str | None = None
    revoked: bool = False


@dataclass
class GatewayRequest:
    """One request as a client sent it, after authentication."""

    route: Route
    body: dict[str, Any]            # the parsed JSON body, in the route's protocol
    key: VirtualKey | None = None   # None: the owner (in-kernel client, or the server's master key)
    user: str | None = None         # the body's "user" / metadata.user_id / the x-llmops-user header / key.user
    team: str | None = None
    project: str | None = None
    parent: Any = None              # the span to nest the request's trace under (in-kernel); None: the current one

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    def scope_value(self, scope: str) -> str | None:
        """Who this request is for in a budget's or rate limit's ``scope``: key, user, team or project."""
        if scope == "key":
            return self.key.key_id if self.key is not None else None
        return {"user": self.user, "team": self.team, "project": self.project}.get(scope)

    @property
    def model_name(self) -> str:
        model = self.body.get("model")
        return model if isinstance(model, str) else ""


def body_user(route: Route, body: dict[str, Any]) -> str | None:
    """The end user a request body names: OpenAI's ``user``, Anthropic's ``metadata.user_id``."""
    if route == "messages":
        metadata = body.get("metadata")
        claimed = metadata.get("user_id") if isinstance(metadata, dict) else None
    else:
        claimed = body.get("user")
    return claimed if isinstance(claimed, str) and claimed else None


def bound_to_key(key: VirtualKey | None, user: str | None, team: str | None,
                 project: str | None) -> tuple[str | None, str | None, str | None]:
    """(user, team, project) of a request: a key bound to one of them cannot claim another (its own wins)."""
    if key is None:
        return user, team, project
    return key.user or user, key.team or team, key.project or project


@dataclass
class GatewayResponse:
    """The answer: a JSON body, or (``stream`` set) the raw server-sent-event bytes in order."""

    status: int = 200
    body: dict[str, Any] | None = None
    stream: AsyncIterator[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)  # x-llmops-deployment, x-llmops-trace-id …


@dataclass
class Usage:
    """Tokens one upstream call used, as the upstream reported them (None: not reported)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None        # the upstream's response model, when it says


FailureKind = Literal["rate_limit", "server", "timeout", "connection", "context_window", "content_policy",
                      "auth", "client"]


class UpstreamFailure(Exception):  # noqa: N818 - an outcome the router classifies, not a user-facing error
    """One upstream attempt failed. The router decides: retry, cool down, fall back, or give up.

    ``retryable`` kinds: rate_limit, server, timeout, connection. ``context_window`` and
    ``content_policy`` go to their fallbacks; ``auth`` and ``client`` are final. ``message`` is the
    upstream's own message with secrets redacted; ``body`` its JSON error body if it sent one.
    """

    RETRYABLE = frozenset({"rate_limit", "server", "timeout", "connection"})

    def __init__(self, kind: FailureKind, message: str, *, status: int | None = None,
                 retry_after: float | None = None, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status
        self.retry_after, self.body = retry_after, body

    @property
    def retryable(self) -> bool:
        return self.kind in self.RETRYABLE
