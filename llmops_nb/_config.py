"""Settings: where the store lives and how capture behaves. A leaf: it imports nothing of ours.

The default store is one DuckDB file per user, so traces from every notebook of
every project land in one place the user owns:

1. ``llmops_nb.configure(db=...)`` wins,
2. else the environment variable ``LLMOPS_NB_DB``,
3. else ``$XDG_DATA_HOME/llmops_nb/llmops.duckdb``
   (``~/.local/share/llmops_nb/llmops.duckdb`` when XDG_DATA_HOME is unset).

``configure()`` itself lives in ``_runtime.py``: changing the store must flush the old one,
which is the store's business, and this module stays below every other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

MAX_FLUSH_INTERVAL_S = 1.0


def default_buffer_bytes() -> int:
    """A tenth of physical memory, between 64 MiB and 1 GiB: what spans may hold while the store is away."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not POSIX: assume a small laptop
        physical = 8 << 30
    return max(64 << 20, min(1 << 30, physical // 10))


@dataclass
class Settings:
    db: str | None = None
    # Spans reach the file at most this long after they end (bounded by 1 s).
    flush_interval: float = 0.5
    # Inputs, outputs and attributes are each capped at this many characters of JSON.
    max_payload_chars: int = 200_000
    # Memory that spans waiting for the writer may use (approximate bytes); past it, new spans are
    # dropped and counted.
    max_buffer_bytes: int = field(default_factory=default_buffer_bytes)
    # Spans waiting for the writer, whatever their size; past this, too, new spans are dropped.
    max_buffered_spans: int = 1_000_000
    # How long a query waits for another process to release the file lock (writes retry on their own).
    lock_timeout: float = 60.0
    # Who registers prompts, moves aliases and gives feedback (else $LLMOPS_NB_AUTHOR, else the login name).
    author: str | None = None
    # Also send every span, as it ends, to this OTLP/HTTP endpoint (MLflow, Phoenix, a collector); None: off.
    otlp_endpoint: str | None = None
    # Headers for otlp_endpoint: a dict or "k=v,k2=v2" (MLflow needs x-mlflow-experiment-id).
    otlp_headers: dict[str, str] | str | None = None
    # Record and replay of LLM calls (llmops_nb.replay): record, replay (= strict), fallthrough, off;
    # None: $LLMOPS_NB_REPLAY at import, else off.
    replay: str | None = None
    # Replay from this exported recording instead of the store ($LLMOPS_NB_REPLAY_FILE).
    replay_file: str | None = None
    # The recording's name in the store ($LLMOPS_NB_RECORDING, else the notebook's name).
    recording: str | None = None

    def db_path(self) -> Path:
        if self.db:
            return Path(self.db).expanduser()
        env = os.environ.get("LLMOPS_NB_DB")
        if env:
            return Path(env).expanduser()
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
        return Path(base) / "llmops_nb" / "llmops.duckdb"


settings = Settings()


def current_author(author: str | None = None) -> str:
    """Who is acting — registering a prompt, moving an alias, giving feedback — the one rule for it:
    ``author`` if given, else ``configure(author=...)``, else ``$LLMOPS_NB_AUTHOR``, else the login name.
    """
    if author is not None:
        if not isinstance(author, str) or not author.strip():
            raise ValueError(f"author must be a non-empty string, got {author!r}.")
        return author
    configured = settings.author or os.environ.get("LLMOPS_NB_AUTHOR")
    if configured:
        return str(configured)
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers: still attribute the action
        return "unknown"
