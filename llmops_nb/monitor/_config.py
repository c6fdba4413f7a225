"""``monitor.yaml``: a monitor as a file, for ``python -m llmops_nb monitor --config monitor.yaml``.

    store: traces.duckdb            # or ducklake:postgres:...; default: configure()/LLMOPS_NB_DB
    interval: 1m                    # Monitor(...) settings: interval, concurrency, timeout, retries,
    concurrency: 16                 #   lookback, batch_size
    scorers:
      - judge:                      # make_judge(...)
          name: polite
          instructions: "Is this reply polite? {{ outputs }}"
          model: openai:/gpt-4.1-mini
        sample_rate: 0.1            # Monitor.add(...) options: name, sample_rate, where, params,
        where: "t.name = ?"         #   span_kind, span_name, version, backfill
        params: [support]
      - builtin: safety             # llmops_nb.scorers.safety(model=...); other keys under options:
        options: {model: "openai:/gpt-4.1-mini"}
      - function: my_app.checks:short_answer   # an importable @scorer or function
    alerts:
      - {name: errors, metric: error_rate, above: 0.05, window: 15m}
    notify:
      - webhook: os.environ/SLACK_WEBHOOK_URL  # a URL is a secret: named, never written here

Errors name the file, the line and the entry, as the gateway's config does (the same reader).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .._errors import LlmopsError
from ..gateway._config_secrets import reference_problem, resolve_secret
from ..gateway._config_yaml import Where, describe, join, read_yaml

_MONITOR_KEYS = ("interval", "concurrency", "timeout", "retries", "lookback", "batch_size")
_ADD_KEYS = ("name", "sample_rate", "where", "params", "span_kind", "span_name", "version", "backfill")
_SCORER_KINDS = ("judge", "builtin", "function")
_JUDGE_KEYS = ("name", "instructions", "model", "value_type", "scale", "choices", "threshold", "system_prompt",
               "temperature", "max_tokens", "json_mode")


class MonitorConfigError(LlmopsError, ValueError):
    """A monitor config that cannot be used as written; the message names the entry, its line and the fix."""


def load_monitor(source: str | Path | dict[str, Any]) -> tuple[Any, str | None]:
    """``(Monitor, store)`` from a YAML file or a dict: the monitor with its scorers, rules and channels."""
    from ._monitor import Monitor

    if isinstance(source, dict):
        data, where = source, Where(None, error_type=MonitorConfigError)
    else:
        path = Path(source)
        data, lines = read_yaml(path, path.name, what="the monitor config", error_type=MonitorConfigError)
        where = Where(path.name, lines, error_type=MonitorConfigError)
    config = where.mapping("", data)
    where.keys("", config, ("store", *_MONITOR_KEYS, "scorers", "alerts", "notify"), required=("scorers",))
    store = where.text("store", config["store"]) if config.get("store") is not None else None
    try:
        monitor = Monitor(**{k: config[k] for k in _MONITOR_KEYS if k in config})
    except ValueError as exc:
        raise where.error("", f"has a bad setting: {exc}") from None
    for index, item in enumerate(where.sequence("scorers", config.get("scorers"), example="- builtin: safety")):
        at = join("scorers", index)
        entry = where.mapping(at, item, optional=False)
        where.keys(at, entry, (*_SCORER_KINDS, "options", *_ADD_KEYS))
        try:
            monitor.add(_scorer(where, at, entry), **{k: entry[k] for k in _ADD_KEYS if k in entry})
        except (ValueError, TypeError) as exc:
            raise where.error(at, f"cannot be added: {exc}") from None
    example = "- {name: errors, metric: error_rate, above: 0.05}"
    for index, item in enumerate(where.sequence("alerts", config.get("alerts"), example=example)):
        at = join("alerts", index)
        rule = where.mapping(at, item, optional=False)
        where.keys(at, rule, list(rule), required=("name", "metric"))
        try:
            monitor.alert(**rule)
        except (ValueError, TypeError) as exc:
            raise where.error(at, f"is not a valid alert rule: {exc}") from None
    notify = where.sequence("notify", config.get("notify"), example="- webhook: os.environ/SLACK_WEBHOOK_URL")
    channels = [_channel(where, join("notify", i), c) for i, c in enumerate(notify)]
    if channels:
        monitor.notify(*channels)
    return monitor, store


def _scorer(where: Where, path: str, entry: dict[str, Any]) -> Any:
    kinds = [k for k in _SCORER_KINDS if k in entry]
    if len(kinds) != 1:
        raise where.error(path, "needs exactly one of judge:, builtin: or function: (what scores the traces)")
    kind = kinds[0]
    options = where.mapping(join(path, "options"), entry.get("options"))
    if kind == "judge":
        judge = where.mapping(join(path, "judge"), entry["judge"], optional=False)
        where.keys(join(path, "judge"), judge, _JUDGE_KEYS, required=("name", "instructions"))
        from ..evals import make_judge

        judge = {k: tuple(v) if k == "scale" and isinstance(v, list) else v for k, v in judge.items()}
        return make_judge(**judge)
    if kind == "builtin":
        from ..evals import scorers

        name = where.text(join(path, "builtin"), entry["builtin"])
        choices = [n for n in scorers.__all__ if n[0].islower() and n not in ("scorer", "make_judge")]
        where.choice(join(path, "builtin"), name, choices)
        return getattr(scorers, name)(**options)
    target = where.text(join(path, "function"), entry["function"])
    module_name, _, attribute = target.partition(":")
    if not attribute:
        raise where.error(join(path, "function"), f"is module:attribute (e.g. my_app.checks:short_answer), "
                                                  f"got {describe(target)}")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise where.error(join(path, "function"), f"cannot be imported: {exc}") from None
    return found(**options) if options else found


def _channel(where: Where, path: str, entry: Any) -> Any:
    if entry == "log":
        return "log"
    entry = where.mapping(path, entry, optional=False)
    where.keys(path, entry, ("webhook", "timeout"), required=("webhook",))
    ref = where.text(join(path, "webhook"), entry["webhook"])
    problem = reference_problem(ref)
    if problem is not None or not ref.startswith("os.environ/"):
        raise where.error(join(path, "webhook"), "names where the webhook URL is, never the URL itself (it "
                                                 "carries a token): webhook: os.environ/SLACK_WEBHOOK_URL")
    from ._alerts import Webhook

    url = resolve_secret(ref)
    if not url:
        raise where.error(join(path, "webhook"), f"names {ref}, which is not set")
    return Webhook(url, **({"timeout": entry["timeout"]} if "timeout" in entry else {}))
