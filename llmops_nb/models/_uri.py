"""Model URIs: ``provider:/name?option=value`` → a :class:`ModelSpec`.

Providers: ``openai`` (OpenAI, or any OpenAI-compatible server with
``?base_url=``), ``anthropic``, ``ollama`` (shorthand for an OpenAI-compatible
server at ``http://127.0.0.1:11434/v1``) and ``local`` (the offline SmolLM2
server of :mod:`llmops_nb.local_model`, started on first use).

>>> parse_model_uri("openai:/llama3?base_url=http://127.0.0.1:8080/v1&timeout=30").timeout
30.0

Credentials never go in a URI (it is stored in traces and run records): the
SDKs read ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``, and ``?api_key_env=NAME``
names another environment variable.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import parse_qsl, quote

from .._errors import did_you_mean

PROVIDERS = ("anthropic", "local", "ollama", "openai")
OLLAMA_BASE_URL = "http://127.0.0.1:11434/v1"


@dataclass(frozen=True)
class ModelSpec:
    """Everything that identifies a model endpoint and how calls to it behave."""

    provider: str
    name: str
    base_url: str | None = None
    #: environment variable holding the API key (default: the SDK's own, e.g. OPENAI_API_KEY)
    api_key_env: str | None = None
    #: seconds per HTTP attempt
    timeout: float = 60.0
    #: retries after the first attempt, on 429, 5xx, timeouts and connection errors
    max_retries: int = 5
    #: calls to this model in flight at once, across threads and event loops
    max_concurrency: int = 64
    #: the longest single wait (Retry-After or backoff) before giving up, in seconds
    max_wait: float = 60.0

    @property
    def uri(self) -> str:
        """The canonical URI, options that differ from the defaults included."""
        defaults = ModelSpec(self.provider, self.name)
        options = [f"{f.name}={quote(str(getattr(self, f.name)), safe=':/')}" for f in fields(self)
                   if f.name not in ("provider", "name") and getattr(self, f.name) != getattr(defaults, f.name)]
        return f"{self.provider}:/{self.name}" + ("?" + "&".join(options) if options else "")

    @property
    def sdk(self) -> str:
        """Which official SDK speaks to this endpoint."""
        return "anthropic" if self.provider == "anthropic" else "openai"

    def with_options(self, **options: Any) -> ModelSpec:
        return replace(self, **_coerce(options, self.uri))


_OPTION_TYPES = {"base_url": str, "api_key_env": str, "timeout": float, "max_retries": int,
                 "max_concurrency": int, "max_wait": float}


def parse_model_uri(uri: str, **options: Any) -> ModelSpec:
    """Parse ``uri``; keyword ``options`` override its query string.

    >>> parse_model_uri("anthropic:/claude-haiku-4-5").provider
    'anthropic'
    """
    if not isinstance(uri, str) or ":" not in uri:
        raise ValueError(f"Model URI {uri!r} is not 'provider:/model', e.g. 'openai:/gpt-4.1-mini', "
                         "'anthropic:/claude-haiku-4-5', 'openai:/llama3?base_url=http://127.0.0.1:8080/v1' "
                         "or 'local:/smollm2'.")
    provider, rest = uri.split(":", 1)
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise ValueError(f"Unknown model provider {provider!r} in {uri!r}.{did_you_mean(provider, PROVIDERS)} "
                         f"Use one of: {', '.join(PROVIDERS)} "
                         "(any OpenAI-compatible server: 'openai:/NAME?base_url=http://HOST:PORT/v1').")
    path, _, query = rest.partition("?")
    name = path.lstrip("/").strip()
    if not name:
        raise ValueError(f"Model URI {uri!r} names no model; write e.g. '{provider}:/"
                         f"{'gpt-4.1-mini' if provider == 'openai' else 'MODEL'}'.")
    given: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    given.update(options)
    spec = ModelSpec(provider, name, **_coerce(given, uri))
    if provider == "ollama" and spec.base_url is None:
        spec = replace(spec, base_url=OLLAMA_BASE_URL)
    return spec


def _coerce(options: dict[str, Any], uri: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key in ("api_key", "key", "token"):
            raise ValueError(f"Do not put an API key in a model URI ({uri!r}): URIs are stored with traces. "
                             "Set it in the environment and name the variable with ?api_key_env=NAME.")
        kind = _OPTION_TYPES.get(key)
        if kind is None:
            raise ValueError(f"Unknown model option {key!r} for {uri!r}.{did_you_mean(key, _OPTION_TYPES)} "
                             f"Known options: {', '.join(sorted(_OPTION_TYPES))}.")
        if value is None or (kind is str and value == ""):
            out[key] = None
            continue
        try:
            out[key] = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"Model option {key}={value!r} in {uri!r} must be {kind.__name__}.") from None
        if kind is not str and out[key] < 0:
            raise ValueError(f"Model option {key}={value!r} in {uri!r} must not be negative.")
    if out.get("max_concurrency") == 0:
        raise ValueError(f"max_concurrency=0 in {uri!r} would block every call; use 1 or more.")
    return out
