"""The gateway's config: LiteLLM's YAML vocabulary read into frozen dataclasses, each mistake named with its line.

>>> config = load_config({"model_list": [{"model_name": "chat",
...                                        "litellm_params": {"model": "openai/gpt-4o-mini"}}]})
>>> [d.id for d in config.groups()["chat"]]
['chat#0']

Sections: ``model_list`` (``_config_models.py``), ``router_settings``, ``general_settings``, and our
``budgets`` and ``rate_limits``. Every key is checked: a misspelling gets "did you mean", a LiteLLM
setting this gateway does not serve (``redis_host``, ``general_settings.database_url`` …) says so
rather than "unknown", and a key written into the config is refused (``_config_secrets.py``).

``litellm_settings`` configures the LiteLLM library, which this gateway does not run. Copied configs
often carry it, so it is accepted and ignored with one logged warning, except its settings that would
change routing (``num_retries``, ``request_timeout``, ``fallbacks`` …): those are refused with
"move it to router_settings", since ignoring them would silently route differently.

Relative paths in a YAML file (``secrets_file``, ``store``) are relative to the file's folder, so the
config works from any working directory; in a dict they are relative to the working directory.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import did_you_mean
from ._config_models import PROVIDERS, key_reference, parse_model_list
from ._config_secrets import resolve_secret
from ._config_yaml import Where, describe, join, read_yaml
from ._errors import GatewayConfigError
from ._types import Deployment

__all__ = ["PROVIDERS", "BudgetRule", "GatewayConfig", "RateRule", "RouterSettings", "load_config",
           "resolve_secret"]

logger = logging.getLogger("llmops_nb.gateway")

ROUTING_STRATEGIES = ("simple-shuffle", "least-busy", "latency-based-routing", "cost-based-routing")
WINDOWS = ("daily", "weekly", "monthly")
_WINDOW_ALIASES = {"1d": "daily", "24h": "daily", "7d": "weekly", "1w": "weekly", "30d": "monthly",
                   "1mo": "monthly"}
BUDGET_SCOPES = ("key", "user", "team", "project")
RATE_SCOPES = ("user", "team", "project")
ACTIONS = ("reject", "alert")
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024

_SECTIONS = ("model_list", "router_settings", "general_settings", "budgets", "rate_limits", "litellm_settings")
_TOP_UNSUPPORTED = {
    "environment_variables": "keys never go in the config: set them in the environment or in "
                             "general_settings.secrets_file, and write api_key: os.environ/NAME or secrets/NAME",
    "credential_list": "write api_key: os.environ/NAME or secrets/NAME on each deployment",
    "include": "write one config file", "guardrails": "use llmops_nb.guardrails in the notebook",
    "mcp_servers": "", "files_settings": "", "finetune_settings": "", "assistant_settings": "",
    "callback_settings": "", "search_tools": "", "vector_store_registry": "",
}
_ROUTER = ("routing_strategy", "num_retries", "retry_after", "allowed_fails", "cooldown_time", "timeout",
           "fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
_ONE_PROCESS = "the gateway runs in one process: its counters live in memory, its spend in the store"
_ROUTER_UNSUPPORTED = {
    **dict.fromkeys(("redis_host", "redis_port", "redis_password", "redis_url", "redis_db"), _ONE_PROCESS),
    "cache_responses": "", "cache_kwargs": "", "routing_strategy_args": "",
    "model_group_alias": "give the deployments the model_name clients ask for",
    "default_litellm_params": "set default request params in each deployment's litellm_params",
    "enable_pre_call_checks": "", "allowed_fails_policy": "use allowed_fails", "retry_policy": "use num_retries",
    "model_group_retry_policy": "use num_retries", "set_verbose": "", "debug_level": "",
    "provider_budget_config": "use the budgets section", "default_fallbacks": "list fallbacks per model_name",
    "max_fallbacks": "", "stream_timeout": "use timeout", "disable_cooldowns": "", "enable_tag_filtering": "",
    "tag_filtering_match_any": "", "optional_pre_call_checks": "", "polling_interval": "", "client_ttl": "",
    "default_max_parallel_requests": "", "default_priority": "",
}
_GENERAL = ("master_key", "secrets_file", "max_request_bytes", "max_request_size_mb", "store")
_STORE_HINT = "keys, spend and traces go to llmops_nb's store: set general_settings.store to choose it"
_GENERAL_UNSUPPORTED = {
    **dict.fromkeys(("database_url", "database_connection_pool_limit", "database_connection_timeout",
                     "store_model_in_db", "disable_spend_logs", "proxy_batch_write_at"), _STORE_HINT),
    "alerting": "budgets with action: alert record an event in the store", "alerting_threshold": "",
    "alert_types": "", "allowed_routes": "", "admin_only_routes": "", "public_routes": "every route is "
    "authenticated", "enforce_user_param": "", "custom_auth": "", "background_health_checks": "",
    "health_check_interval": "", "max_parallel_requests": "", "global_max_parallel_requests": "",
    "pass_through_endpoints": "", "infer_model_from_keys": "", "ui_access_mode": "",
    "key_management_system": "use general_settings.secrets_file or the environment",
    "allowed_ips": "the server listens on 127.0.0.1 only", "max_response_size_mb": "", "user_header_name": "",
    "disable_master_key_return": "", "litellm_key_header_name": "",
}
# litellm_settings that would change how requests are routed: refused, with where they go instead.
_LITELLM_SETTINGS_MOVED = {"num_retries": "num_retries", "request_timeout": "timeout", "fallbacks": "fallbacks",
                           "context_window_fallbacks": "context_window_fallbacks", "allowed_fails": "allowed_fails",
                           "content_policy_fallbacks": "content_policy_fallbacks", "cooldown_time": "cooldown_time"}


@dataclass(frozen=True)
class RouterSettings:
    """How a request picks a deployment, retries, and falls back to other model groups (``router_settings``)."""

    routing_strategy: str = "simple-shuffle"
    num_retries: int = 2
    retry_after: float = 0.0          # minimum backoff seconds
    allowed_fails: int = 3            # failures within cooldown_time before a deployment cools down
    cooldown_time: float = 30.0
    timeout: float = 600.0            # seconds per attempt, unless a deployment sets its own
    fallbacks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    context_window_fallbacks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    content_policy_fallbacks: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class BudgetRule:
    """A spending cap in USD per UTC calendar window, for one key/user/team/project or each one (``"*"``)."""

    scope: str                        # key | user | team | project
    scope_id: str                     # the id it applies to, or "*" for each one separately
    max_budget: float
    window: str                       # daily | weekly | monthly
    action: str = "reject"            # reject | alert (let through, record the event)
    line: int | None = None


@dataclass(frozen=True)
class RateRule:
    """Requests and tokens per minute for one user/team/project or each one (``"*"``); None = no limit."""

    scope: str                        # user | team | project
    scope_id: str
    rpm: int | None = None
    tpm: int | None = None
    line: int | None = None


@dataclass(frozen=True)
class GatewayConfig:
    """A checked gateway config. Keys appear only as references (``os.environ/NAME``, ``secrets/NAME``)."""

    deployments: tuple[Deployment, ...]
    router: RouterSettings = field(default_factory=RouterSettings)
    budgets: tuple[BudgetRule, ...] = ()
    rate_limits: tuple[RateRule, ...] = ()
    master_key_ref: str | None = None
    secrets_file: str | None = None   # `~` expanded; relative to the YAML file's folder
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    store: str | None = None          # None: the store llmops_nb is configured with
    source: str | None = None         # the YAML file it was read from (None: a dict)

    def groups(self) -> dict[str, list[Deployment]]:
        """model_name → its deployments, in config order."""
        grouped: dict[str, list[Deployment]] = {}
        for deployment in self.deployments:
            grouped.setdefault(deployment.model_name, []).append(deployment)
        return grouped


def load_config(source: str | os.PathLike[str] | Mapping[str, Any]) -> GatewayConfig:
    """Read and check a gateway config: the path of a YAML file, or the same structure as a dict.

    Raises :class:`GatewayConfigError` naming the entry (and in a file, its line) and the fix.
    """
    if isinstance(source, Mapping):
        return _build(dict(source), Where(), source=None, folder=None)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"load_config() takes the path of a YAML file or a dict, not {type(source).__name__}")
    label = os.fspath(source)
    if "\n" in label:
        # YAML text, not a path; not quoted back, since it may hold a key
        raise GatewayConfigError("load_config() takes the path of a YAML file or a dict; this string spans "
                                 "several lines (YAML text?): write it to a file, or pass yaml.safe_load(text)")
    path = Path(label).expanduser()
    if not path.is_file():
        state = "is a folder" if path.is_dir() else "does not exist"
        raise GatewayConfigError(f"the gateway config {label!r} {state} (looked for {path.resolve()}); "
                                 f"give the path of a YAML file, or the config as a dict")
    data, lines = read_yaml(path, label)
    return _build(data, Where(label, lines), source=str(path.resolve()), folder=path.resolve().parent)


def _build(data: object, where: Where, *, source: str | None, folder: Path | None) -> GatewayConfig:
    if data is None:
        raise GatewayConfigError(f"{where.label or 'the gateway config'} is empty; it needs a model_list")
    if not isinstance(data, Mapping):
        raise GatewayConfigError(f"{where.label or 'the gateway config'} must be a mapping with model_list, "
                                 f"router_settings …, got a {type(data).__name__}")
    where.keys("", data, _SECTIONS, _TOP_UNSUPPORTED, required=("model_list",))
    _check_litellm_settings(where, data.get("litellm_settings"))
    general = where.mapping("general_settings", data.get("general_settings"))
    where.keys("general_settings", general, _GENERAL, _GENERAL_UNSUPPORTED,
               renamed={"max_request_size": "max_request_bytes", "database": "store", "db": "store"})
    secrets_file = _path(where, "general_settings.secrets_file", general.get("secrets_file"), folder)
    router = where.mapping("router_settings", data.get("router_settings"))
    where.keys("router_settings", router, _ROUTER, _ROUTER_UNSUPPORTED)
    settings = _router_scalars(where, router)
    deployments = parse_model_list(where, data["model_list"], default_timeout=settings.get("timeout", 600.0),
                                   has_secrets_file=secrets_file is not None)
    names = sorted({d.model_name for d in deployments})
    fallbacks: dict[str, Any] = {kind: _fallbacks(where, f"router_settings.{kind}", router.get(kind), names)
                                 for kind in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")}
    store = general.get("store")
    if not (isinstance(store, str) and store.startswith(("ducklake:", ":memory:"))):
        store = _path(where, "general_settings.store", store, folder)  # a DuckDB file; a ducklake: URL stays
    return GatewayConfig(
        deployments=deployments,
        router=RouterSettings(**settings, **fallbacks),
        budgets=_budgets(where, data.get("budgets")),
        rate_limits=_rate_limits(where, data.get("rate_limits")),
        master_key_ref=key_reference(where, "general_settings.master_key", general.get("master_key"),
                                     variable="LLMOPS_GW_MASTER_KEY", has_secrets_file=secrets_file is not None),
        secrets_file=secrets_file,
        max_request_bytes=_max_request_bytes(where, general),
        store=store,
        source=source,
    )


def _router_scalars(where: Where, router: dict[str, Any]) -> dict[str, Any]:
    def at(key: str) -> str:
        return f"router_settings.{key}"

    strategy = router.get("routing_strategy")
    if isinstance(strategy, str) and strategy.startswith("usage-based-routing"):
        raise where.error(at("routing_strategy"), f"{strategy!r} is not supported by llmops_nb's gateway; use "
                                                  f"least-busy (fewest requests in flight) or simple-shuffle "
                                                  f"(with each deployment's weight)")
    checks = {
        "routing_strategy": lambda v: where.choice(at("routing_strategy"), v, ROUTING_STRATEGIES),
        "num_retries": lambda v: where.integer(at("num_retries"), v, minimum=0),
        "retry_after": lambda v: where.number(at("retry_after"), v),
        "allowed_fails": lambda v: where.integer(at("allowed_fails"), v, minimum=0),
        "cooldown_time": lambda v: where.number(at("cooldown_time"), v),
        "timeout": lambda v: where.number(at("timeout"), v, strict=True),
    }
    return {key: check(router[key]) for key, check in checks.items() if router.get(key) is not None}


def _fallbacks(where: Where, path: str, value: object, names: list[str]) -> dict[str, tuple[str, ...]]:
    """LiteLLM's ``[{chat: [backup]}]`` or the plain ``{chat: [backup]}``: model_name → its fallbacks."""
    if value is None:
        return {}
    entries: list[tuple[str, object, object]] = []
    if isinstance(value, Mapping):
        entries = [(join(path, key), key, targets) for key, targets in value.items()]
    elif isinstance(value, list):
        for index, item in enumerate(value):
            item_path = join(path, index)
            if not isinstance(item, Mapping):
                raise where.error(item_path, "must be a mapping like {chat: [backup-chat]}, got "
                                             f"{type(item).__name__}")
            entries += [(join(item_path, key), key, targets) for key, targets in item.items()]
    else:
        raise where.error(path, "must be a list like [{chat: [backup-chat]}] or a mapping like "
                                "{chat: [backup-chat]}")
    result: dict[str, tuple[str, ...]] = {}
    for entry_path, group, targets in entries:
        if group not in names:
            raise where.error(entry_path, f"is not a model_name of model_list.{did_you_mean(group, names)} "
                                          f"Fallbacks name model groups: {', '.join(names)}")
        assert isinstance(group, str)
        if group in result:
            raise where.error(entry_path, "is given twice; list all of its fallbacks in one entry, in order")
        chosen: list[str] = []
        for index, target in enumerate(where.sequence(entry_path, targets, example="[backup-chat]")):
            target_path = join(entry_path, index)
            if target not in names:
                raise where.error(target_path, f"names {target!r}, not a model_name of model_list."
                                               f"{did_you_mean(target, names)} Known: {', '.join(names)}")
            if target == group or target in chosen:
                raise where.error(target_path, f"names {target!r} again; each fallback is another model_name, "
                                               f"once")
            chosen.append(target)
        if not chosen:
            raise where.error(entry_path, "lists no fallback; name at least one model_name, or remove it")
        result[group] = tuple(chosen)
    return result


def _path(where: Where, path: str, value: object, folder: Path | None) -> str | None:
    if value is None:
        return None
    expanded = Path(where.text(path, value, what="a file path")).expanduser()
    if folder is not None and not expanded.is_absolute():
        expanded = folder / expanded
    return str(expanded)


def _max_request_bytes(where: Where, general: dict[str, Any]) -> int:
    size_bytes, size_mb = general.get("max_request_bytes"), general.get("max_request_size_mb")
    if size_bytes is not None and size_mb is not None:
        raise where.error("general_settings.max_request_size_mb", "and max_request_bytes say the same thing; "
                                                                  "keep one")
    if size_mb is not None:  # LiteLLM's name for it
        return int(where.number("general_settings.max_request_size_mb", size_mb, strict=True) * 1024 * 1024)
    if size_bytes is not None:
        return where.integer("general_settings.max_request_bytes", size_bytes)
    return DEFAULT_MAX_REQUEST_BYTES


def _window(where: Where, path: str, value: object) -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    if text in WINDOWS:
        return str(text)
    if isinstance(text, str) and text in _WINDOW_ALIASES:
        return _WINDOW_ALIASES[text]
    raise where.error(path, f"must be daily, weekly or monthly (UTC calendar windows; 1d/24h, 7d/1w and 30d/1mo "
                            f"are read as those), got {describe(value)}")


def _rule_start(where: Where, path: str, entry: object, *, allowed: tuple[str, ...], scopes: tuple[str, ...],
                required: tuple[str, ...]) -> tuple[dict[str, Any], str, str]:
    rule = where.mapping(path, entry, optional=False)
    where.keys(path, rule, allowed, required=required,
               renamed={"scope_id": "id", "duration": "budget_duration", "window": "budget_duration",
                        "budget": "max_budget", "limit": "max_budget" if "max_budget" in allowed else "rpm"})
    scope = rule["scope"]
    if scopes == RATE_SCOPES and scope in ("key", "deployment"):
        raise where.error(join(path, "scope"), f"is {scope!r}: a key's rpm/tpm are set on the key, a "
                                               f"deployment's in its model_list litellm_params")
    scope = where.choice(join(path, "scope"), scope, scopes)
    scope_id = where.text(join(path, "id"), rule["id"], what='an id, or "*" for each one separately')
    return rule, scope, scope_id


def _budgets(where: Where, value: object) -> tuple[BudgetRule, ...]:
    rules: dict[tuple[str, str, str], BudgetRule] = {}
    for index, entry in enumerate(where.sequence("budgets", value, example="- scope: team")):
        path = f"budgets[{index}]"
        rule, scope, scope_id = _rule_start(
            where, path, entry, allowed=("scope", "id", "max_budget", "budget_duration", "action"),
            scopes=BUDGET_SCOPES, required=("scope", "id", "max_budget", "budget_duration"))
        window = _window(where, join(path, "budget_duration"), rule["budget_duration"])
        budget = BudgetRule(scope, scope_id, where.number(join(path, "max_budget"), rule["max_budget"]), window,
                            where.choice(join(path, "action"), rule.get("action") or "reject", ACTIONS),
                            where.line(path))
        if (scope, scope_id, window) in rules:
            raise where.error(path, f"is a second {window} budget for {scope} {scope_id!r}; keep one")
        rules[(scope, scope_id, window)] = budget
    return tuple(rules.values())


def _rate_limits(where: Where, value: object) -> tuple[RateRule, ...]:
    rules: dict[tuple[str, str], RateRule] = {}
    for index, entry in enumerate(where.sequence("rate_limits", value, example="- scope: user")):
        path = f"rate_limits[{index}]"
        rule, scope, scope_id = _rule_start(where, path, entry, allowed=("scope", "id", "rpm", "tpm"),
                                            scopes=RATE_SCOPES, required=("scope", "id"))
        if rule.get("rpm") is None and rule.get("tpm") is None:
            raise where.error(path, "sets no limit; give rpm (requests per minute), tpm (tokens per minute) or both")
        limits = {key: where.integer(join(path, key), rule[key]) if rule.get(key) is not None else None
                  for key in ("rpm", "tpm")}
        if (scope, scope_id) in rules:
            raise where.error(path, f"is a second rate limit for {scope} {scope_id!r}; keep one")
        rules[(scope, scope_id)] = RateRule(scope, scope_id, limits["rpm"], limits["tpm"], where.line(path))
    return tuple(rules.values())


def _check_litellm_settings(where: Where, value: object) -> None:
    settings = where.mapping("litellm_settings", value)
    for key in settings:
        if key in _LITELLM_SETTINGS_MOVED:
            raise where.error(join("litellm_settings", key), f"changes routing, which this gateway reads from "
                                                             f"router_settings: move it to router_settings."
                                                             f"{_LITELLM_SETTINGS_MOVED[key]}")
    if settings:
        logger.warning("%signored litellm_settings (%s): they configure the LiteLLM library, which llmops_nb's "
                       "gateway does not run", where.prefix("litellm_settings"), ", ".join(map(str, settings)))
