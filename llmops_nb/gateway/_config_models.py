"""The config's ``model_list``: LiteLLM's deployment entries checked and read into :class:`Deployment` objects.

Each entry is ``model_name`` (the name clients ask for), ``litellm_params`` (where and how to call:
``model: provider/model``, ``api_base``, ``api_key`` as a reference, limits, default request params)
and ``model_info`` (a stable id, token limits and prices that override llmops_nb's price table).

Providers: ``openai``, ``anthropic`` and ``local`` (the offline model). Every other OpenAI-compatible
server (vLLM, Ollama, LM Studio …) is ``openai/<its model name>`` with ``api_base``: one way to say it,
rather than LiteLLM's dozens of provider names for the same wire protocol.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .._errors import did_you_mean
from ._config_secrets import ENV_PREFIX, SECRETS_PREFIX, reference_problem, resolve_secret
from ._config_yaml import Where, describe, join
from ._errors import GatewayConfigError
from ._types import Deployment

__all__ = ["PROVIDERS", "literal_key_message", "parse_model_list"]

PROVIDERS = ("openai", "anthropic", "local")
_KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "local": "LOCAL_API_KEY"}

# Request parameters a deployment may set as defaults (merged under the client's), by the check they get.
_INT_PARAMS = ("max_tokens", "max_completion_tokens", "n", "top_k", "top_logprobs", "dimensions")
_NUMBER_PARAMS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_OTHER_PARAMS = ("stop", "stop_sequences", "seed", "logit_bias", "logprobs", "response_format", "tools",
                 "tool_choice", "parallel_tool_calls", "reasoning_effort", "thinking", "service_tier",
                 "encoding_format", "extra_body")
_ROUTING_PARAMS = ("model", "api_base", "api_key", "rpm", "tpm", "weight", "order", "timeout",
                   "input_cost_per_token", "output_cost_per_token")
_LITELLM_PARAMS = _ROUTING_PARAMS + _INT_PARAMS + _NUMBER_PARAMS + _OTHER_PARAMS

_USE_REFERENCE = "write api_key: os.environ/NAME or secrets/NAME on the deployment"
_LITELLM_PARAMS_UNSUPPORTED = {
    "api_version": "Azure is not served; an OpenAI-compatible server is openai/<model> with api_base",
    "organization": "", "max_retries": "use router_settings.num_retries", "stream_timeout": "use timeout",
    "custom_llm_provider": "write the provider in model: provider/model", "region_name": "",
    "aws_access_key_id": "", "aws_secret_access_key": "", "aws_session_token": "", "aws_region_name": "",
    "vertex_project": "", "vertex_location": "", "vertex_credentials": "", "tags": "", "use_in_pass_through": "",
    "mock_response": "", "headers": "", "extra_headers": "", "drop_params": "", "additional_drop_params": "",
    "merge_reasoning_content_in_choices": "", "litellm_credential_name": _USE_REFERENCE,
    "configurable_clientside_auth_params": "", "input_cost_per_second": "", "output_cost_per_second": "",
    "max_budget": "budgets go in the config's budgets section", "budget_duration": "budgets go in the config's "
    "budgets section", "cache_control_injection_points": "",
}
_MODEL_INFO = ("id", "max_input_tokens", "max_output_tokens", "input_cost_per_token", "output_cost_per_token",
               "mode")
_MODEL_INFO_UNSUPPORTED = {
    "base_model": "", "cache_read_input_token_cost": "", "cache_creation_input_token_cost": "",
    "input_cost_per_second": "", "output_cost_per_second": "", "supports_function_calling": "",
    "supports_vision": "", "supports_reasoning": "", "supports_response_schema": "", "tier": "",
}
# `mode` (chat | embedding …) is accepted as LiteLLM writes it and not used: the route of a request says it.
_MODES = ("chat", "embedding", "completion", "responses")


def literal_key_message(field: str, variable: str) -> str:
    """The refusal of a key written into the config; it never quotes the key."""
    return (f"holds a literal key; keys never go in the config (it is read by many and stored in traces): put "
            f"it in the environment and write {field}: {ENV_PREFIX}{variable} (or {SECRETS_PREFIX}NAME with "
            f"general_settings.secrets_file). Leave {field} out if none is needed; rotate the key if this file "
            f"was shared")


def key_reference(where: Where, path: str, value: object, *, variable: str, has_secrets_file: bool) -> str | None:
    """A checked ``os.environ/NAME`` or ``secrets/NAME`` reference, or None; a literal key is refused."""
    if value is None:
        return None
    field = path.rsplit(".", 1)[-1]
    problem = reference_problem(value)
    if problem == "literal":
        raise where.error(path, literal_key_message(field, variable))
    if problem is not None:
        raise where.error(path, f"is not a valid reference: {problem}")
    assert isinstance(value, str)
    if value.startswith(SECRETS_PREFIX) and not has_secrets_file:
        raise where.error(path, f"is {value}, but no secrets file is set; add general_settings.secrets_file: "
                                f"<a YAML file of NAME: value lines>, or use {ENV_PREFIX}NAME")
    return value


def parse_model_list(where: Where, value: object, *, default_timeout: float,
                     has_secrets_file: bool) -> tuple[Deployment, ...]:
    """Every ``model_list`` entry as a :class:`Deployment`, in config order, with unique ids."""
    entries = where.sequence("model_list", value, example="- model_name: chat")
    if not entries:
        raise where.error("model_list", "is empty; add at least one deployment, e.g. '- model_name: chat' with "
                                        "'litellm_params: {model: openai/gpt-4o-mini}'")
    deployments: list[Deployment] = []
    ids: dict[str, str] = {}
    for index, entry in enumerate(entries):
        deployment = _deployment(where, index, entry, default_timeout=default_timeout,
                                 has_secrets_file=has_secrets_file)
        path = f"model_list[{index}]"
        if deployment.id in ids:
            first = ids[deployment.id]
            line = where.line(first) if where.label else None
            at = f"{first} (line {line})" if line is not None else first
            raise where.error(path, f"has the deployment id {deployment.id!r}, already the id of {at}; ids must "
                                    f"be unique: give one of them another model_info.id")
        ids[deployment.id] = path
        deployments.append(deployment)
    return tuple(deployments)


def _deployment(where: Where, index: int, entry: object, *, default_timeout: float,
                has_secrets_file: bool) -> Deployment:
    path = f"model_list[{index}]"
    entry = where.mapping(path, entry, optional=False)
    where.keys(path, entry, ("model_name", "litellm_params", "model_info"),
               required=("model_name", "litellm_params"))
    model_name = where.text(join(path, "model_name"), entry["model_name"])
    params_path = join(path, "litellm_params")
    params = where.mapping(params_path, entry["litellm_params"], optional=False)
    where.keys(params_path, params, _LITELLM_PARAMS, _LITELLM_PARAMS_UNSUPPORTED, required=("model",),
               renamed={"base_url": "api_base", "api_url": "api_base", "max_output_tokens": "max_tokens"})
    info_path = join(path, "model_info")
    info = where.mapping(info_path, entry.get("model_info"))
    where.keys(info_path, info, _MODEL_INFO, _MODEL_INFO_UNSUPPORTED,
               renamed={"max_tokens": "max_output_tokens", "deployment_id": "id"})

    def at(key: str) -> str:
        return join(params_path, key)

    def optional(section: dict[str, Any], section_path: str, key: str, check: Any) -> Any:
        return check(join(section_path, key), section[key]) if section.get(key) is not None else None

    provider, model = _provider_model(where, at("model"), params["model"])
    if info.get("mode") is not None:
        where.choice(join(info_path, "mode"), info["mode"], _MODES)
    weight = optional(params, params_path, "weight", lambda p, v: where.number(p, v, strict=True))
    timeout = optional(params, params_path, "timeout", lambda p, v: where.number(p, v, strict=True))
    return Deployment(
        model_name=model_name,
        id=optional(info, info_path, "id", where.text) or f"{model_name}#{index}",
        provider=provider,
        model=model,
        protocol="anthropic" if provider == "anthropic" else "openai",
        api_base=_api_base(where, at("api_base"), params.get("api_base")),
        api_key_ref=key_reference(where, at("api_key"), params.get("api_key"), variable=_KEY_VARIABLES[provider],
                                  has_secrets_file=has_secrets_file),
        rpm=optional(params, params_path, "rpm", where.integer),
        tpm=optional(params, params_path, "tpm", where.integer),
        weight=1.0 if weight is None else weight,
        order=optional(params, params_path, "order", where.integer),
        timeout=default_timeout if timeout is None else timeout,  # router_settings.timeout unless set here
        max_input_tokens=optional(info, info_path, "max_input_tokens", where.integer),
        max_output_tokens=optional(info, info_path, "max_output_tokens", where.integer),
        input_cost_per_token=_price(where, "input_cost_per_token", params_path=params_path, info_path=info_path,
                                     params=params, info=info),
        output_cost_per_token=_price(where, "output_cost_per_token", params_path=params_path, info_path=info_path,
                                      params=params, info=info),
        params=_request_params(where, params_path, params),
        line=where.line(path),
    )


def _provider_model(where: Where, path: str, value: object) -> tuple[str, str]:
    text = where.text(path, value, what="provider/model, e.g. openai/gpt-4o-mini")
    provider, slash, model = text.partition("/")
    if not slash:
        guess = "anthropic" if text.startswith("claude") else "openai"
        raise where.error(path, f"must be provider/model, e.g. {guess}/{text}; the providers are "
                                f"{', '.join(PROVIDERS)}")
    if provider not in PROVIDERS:
        raise where.error(path, f"names the provider {provider!r}, which llmops_nb's gateway does not serve."
                                f"{did_you_mean(provider, PROVIDERS)} It serves openai/<model>, anthropic/<model> "
                                f"and local/<model>; any OpenAI-compatible server (vLLM, Ollama, LM Studio …) is "
                                f"openai/<its model name> with api_base: <its /v1 URL>")
    if not model.strip():
        raise where.error(path, f"names no model after {provider}/; write e.g. {provider}/<the model's id>")
    return provider, model.strip()


def _api_base(where: Where, path: str, value: object) -> str | None:
    if value is None:
        return None
    url = where.text(path, value, what="an http(s) URL such as http://127.0.0.1:8001/v1")
    if url.startswith(ENV_PREFIX):
        # LiteLLM allows api_base: os.environ/NAME; a base URL is not a secret, so it is read once, here.
        try:
            url = resolve_secret(url) or ""
        except GatewayConfigError as exc:
            raise where.error(path, f"cannot be read: {exc}") from None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise where.error(path, f"must be an http(s) URL such as http://127.0.0.1:8001/v1, got {describe(url)}")
    return url.rstrip("/")


def _price(where: Where, key: str, *, params_path: str, info_path: str, params: dict[str, Any],
           info: dict[str, Any]) -> float | None:
    # LiteLLM documents custom prices in either place; one place per deployment keeps them unambiguous.
    if params.get(key) is not None and info.get(key) is not None:
        raise where.error(join(params_path, key), f"is also given in model_info; keep one ({join(info_path, key)})")
    if info.get(key) is not None:
        return where.number(join(info_path, key), info[key])
    if params.get(key) is not None:
        return where.number(join(params_path, key), params[key])
    return None


def _request_params(where: Where, path: str, params: dict[str, Any]) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for key, value in params.items():
        if key in _ROUTING_PARAMS or value is None:
            continue
        if key in _INT_PARAMS:
            defaults[key] = where.integer(join(path, key), value)
        elif key in _NUMBER_PARAMS:
            defaults[key] = where.number(join(path, key), value, minimum=-2.0)
        else:
            defaults[key] = value
    return defaults
