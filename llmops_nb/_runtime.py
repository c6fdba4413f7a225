"""The one place where the layers are wired, and the calls that reach across them.

``tracing`` knows only a sink protocol; the store's recorder implements it. :func:`install`
(run by the package's ``__init__``) makes the recorder the sink of this process. ``configure``
changes settings (and, for a new ``db``, hands spans still in memory to the new store);
``status`` reports what happened to every span.
"""

from __future__ import annotations

import os
import sys
from dataclasses import fields
from typing import Any

from ._config import MAX_FLUSH_INTERVAL_S, Settings, settings
from ._errors import did_you_mean
from ._safety import failure_counts
from .store import _connection, _queries
from .store._recorder import recorder
from .tracing import _sink

#: how long configure(db=...) waits for spans recorded for the old store to reach it
SWITCH_FLUSH_S = 5.0


def install() -> None:
    """Make the store's recorder the sink of every span this process ends, and give the store's
    ``traces(prompt=...)`` its filter from the prompt registry (loaded when first used). Idempotent."""
    if _sink.current_sink() is not recorder:
        _sink.set_sink(recorder)
    _queries.set_prompt_filter(_prompt_filter)


def _prompt_filter(prompt: object) -> tuple[str, list[Any]]:
    from .prompts._filter import trace_filter

    return trace_filter(prompt)


def configure(**options: object) -> Settings:
    """Change settings; unknown names are rejected.

    >>> import llmops_nb
    >>> llmops_nb.configure(db="traces.duckdb", flush_interval=0.2)  # doctest: +SKIP
    """
    known = {f.name for f in fields(Settings)}
    for name in options:
        if name not in known:
            raise TypeError(f"configure() got an unknown setting {name!r}.{did_you_mean(name, known)} "
                            f"Known settings: {', '.join(sorted(known))}.")
    if "flush_interval" in options:
        interval = float(options["flush_interval"])  # type: ignore[arg-type]
        if not 0 < interval <= MAX_FLUSH_INTERVAL_S:
            raise ValueError(
                f"flush_interval must be in (0, {MAX_FLUSH_INTERVAL_S}] seconds, got {interval}: "
                "a longer interval would lose more traces when a kernel is killed."
            )
    for name in ("max_payload_chars", "max_buffered_spans", "max_buffer_bytes"):
        if name in options and int(options[name]) < 1:  # type: ignore[call-overload]
            raise ValueError(f"{name} must be a positive integer, got {options[name]!r}.")
    chosen = options.get("auto_maintain")
    if chosen is not None and (isinstance(chosen, bool) or not isinstance(chosen, int) or chosen < 0):
        raise ValueError(f"auto_maintain is a number of commits (0: never, None: the default, 500), got {chosen!r}.")
    if options.get("pii") is not None:
        from .pii import load_policy

        load_policy(options["pii"])  # a bad policy is refused here, naming the entry, before any span uses it
    forward = "otlp_endpoint" in options or "otlp_headers" in options
    if forward and options.get("otlp_endpoint", settings.otlp_endpoint) is not None:
        from .otel._http import resolve_endpoint, resolve_headers

        resolve_endpoint(options.get("otlp_endpoint", settings.otlp_endpoint))  # type: ignore[arg-type]
        resolve_headers(options.get("otlp_headers", settings.otlp_headers))  # type: ignore[arg-type]
    if {"replay", "replay_file", "recording"} & set(options):
        _start_replay(options)  # before any setting changes: a bad mode or file leaves them all as they were
    new_db = ("db" in options and options["db"] != settings.db) or \
        ("data_path" in options and options["data_path"] != settings.data_path)
    if new_db and not recorder.flush(SWITCH_FLUSH_S):
        # The old store did not take them (locked, full, unreadable): they are not lost, they
        # go to the new store instead — say so, with the cause.
        print(f"llmops_nb: {recorder.waiting():,} spans recorded for {_connection.store_label()} could not be written "
              f"there ({recorder.store_problem or recorder.last_error or 'no answer in time'}); they will be "
              "written to the new store.")
    for name, value in options.items():
        setattr(settings, name, value if name != "db" or value is None else os.fspath(value))  # type: ignore[call-overload]
    recorder.apply_limits()
    if "pii" in options:  # who changed how PII is handled, and to what: the audit trail, in the store now configured
        from .store._audit import record_quietly  # on use: every import llmops_nb would pay for it otherwise

        record_quietly("pii.policy_changed", "pii", {"policy": options["pii"]})
    if forward:
        _forward_spans()
    if new_db:
        _connection.forget_stores()
    return settings


def status() -> dict[str, Any]:
    """Where traces go and what happened to them: written, waiting, dropped, failures, the writer's state.

    >>> import llmops_nb
    >>> llmops_nb.status()["dropped_spans"]  # doctest: +SKIP
    0
    """
    return {
        "db": _connection.store_label(),  # a lake's URL without its password
        "flush_interval_s": settings.flush_interval,
        "spans_written": recorder.written_total,
        "spans_waiting": recorder.waiting(),
        "bytes_waiting": recorder.waiting_bytes(),
        "dropped_spans": recorder.dropped_total,
        "placeholder_spans": recorder.placeholders_written,
        "write_failures": recorder.write_failures,
        "last_write_error": recorder.last_error,
        "store_problem": recorder.store_problem,
        "writer": recorder.writer_status(),
        "internal_failures": dict(failure_counts),
        "maintenance": _maintenance_status(),
        "otel": _otel_status(),
        "replay": _replay_status(),
    }


def _maintenance_status() -> dict[str, Any] | None:
    """A team store's background maintenance (None for a DuckDB file, which needs none)."""
    if settings.lake_url() is None:
        return None
    from .store import _auto_maintain

    return _auto_maintain.status()


def _start_replay(options: dict[str, object]) -> None:
    from . import replay

    def chosen(name: str) -> Any:
        return options[name] if name in options else getattr(settings, name)

    mode = chosen("replay") or replay.mode()
    replay.start(str(mode), recording=chosen("recording"), file=chosen("replay_file"))


def start_replay_from_environment() -> None:
    """``LLMOPS_NB_REPLAY`` set: record or replay from import on (a runner in CI sets it for a kernel)."""
    if os.environ.get("LLMOPS_NB_REPLAY"):
        from .replay import start_from_environment

        start_from_environment()


def _replay_status() -> dict[str, Any]:
    replay = sys.modules.get("llmops_nb.replay")  # not loaded: never turned on
    return replay.status() if replay is not None else {"mode": "off"}


def _forward_spans() -> None:
    """Start, restart or stop the live OTLP forwarder to match the settings."""
    from .otel import _forward

    if settings.otlp_endpoint:
        _forward.start(settings.otlp_endpoint, settings.otlp_headers)
    else:
        _forward.stop()


def _otel_status() -> dict[str, Any]:
    from . import otel  # light: reports only the parts of llmops_nb.otel already in use

    return otel.status()
