"""Settings: where the store lives and how capture behaves.

The default store is one DuckDB file per user, so traces from every notebook of
every project land in one place the user owns:

1. ``llmops_nb.configure(db=...)`` wins,
2. else the environment variable ``LLMOPS_NB_DB``,
3. else ``$XDG_DATA_HOME/llmops_nb/llmops.duckdb``
   (``~/.local/share/llmops_nb/llmops.duckdb`` when XDG_DATA_HOME is unset).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

MAX_FLUSH_INTERVAL_S = 1.0


@dataclass
class Settings:
    db: str | None = None
    # Spans reach the file at most this long after they end (bounded by 1 s).
    flush_interval: float = 0.5
    # Inputs, outputs and attributes are each capped at this many characters of JSON.
    max_payload_chars: int = 200_000
    # Spans waiting in memory for the writer; past this, new spans are dropped and counted.
    max_buffered_spans: int = 1_000_000
    # How long a write waits for another process to release the file lock.
    lock_timeout: float = 60.0
    # Who registers prompts, moves aliases and gives feedback (else $LLMOPS_NB_AUTHOR, else the login name).
    author: str | None = None

    def db_path(self) -> Path:
        if self.db:
            return Path(self.db).expanduser()
        env = os.environ.get("LLMOPS_NB_DB")
        if env:
            return Path(env).expanduser()
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        return Path(base) / "llmops_nb" / "llmops.duckdb"


settings = Settings()


def configure(**options: object) -> Settings:
    """Change settings; unknown names are rejected.

    >>> import llmops_nb
    >>> llmops_nb.configure(db="traces.duckdb", flush_interval=0.2)  # doctest: +SKIP
    """
    known = {f.name for f in fields(Settings)}
    for name in options:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(
                f"configure() got an unknown setting {name!r}.{hint} Known settings: {', '.join(sorted(known))}."
            )
    if "flush_interval" in options:
        interval = float(options["flush_interval"])  # type: ignore[arg-type]
        if not 0 < interval <= MAX_FLUSH_INTERVAL_S:
            raise ValueError(
                f"flush_interval must be in (0, {MAX_FLUSH_INTERVAL_S}] seconds, got {interval}: "
                "a longer interval would lose more traces when a kernel is killed."
            )
    for name in ("max_payload_chars", "max_buffered_spans"):
        if name in options and int(options[name]) < 1:  # type: ignore[call-overload]
            raise ValueError(f"{name} must be a positive integer, got {options[name]!r}.")
    new_db = "db" in options and options["db"] != settings.db
    if new_db:
        # Spans already captured belong to the old file: write them there first.
        from .tracing import _recorder

        _recorder.flush(timeout=settings.lock_timeout)
    for name, value in options.items():
        setattr(settings, name, value if name != "db" or value is None else os.fspath(value))  # type: ignore[arg-type]
    if new_db:
        from .store import _connection

        _connection.forget_stores()
    return settings
