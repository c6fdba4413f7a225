"""Settings: where the store lives and how capture behaves. A leaf: it imports nothing of ours.

The default store is one DuckDB file per user, so traces from every notebook of
every project land in one place the user owns:

1. ``llmops_nb.configure(db=...)`` wins,
2. else the environment variable ``LLMOPS_NB_DB``,
3. else ``$XDG_DATA_HOME/llmops_nb/llmops.duckdb``
   (``~/.local/share/llmops_nb/llmops.duckdb`` when XDG_DATA_HOME is unset).

A ``db`` starting with ``ducklake:`` (``ducklake:postgres:dbname=llmops host=...``) is a team store
on DuckLake instead, its Parquet files under ``data_path`` (else ``$LLMOPS_NB_DATA_PATH``); see
``store/_lake.py``. For such a store ``db_path()`` names a local file beside which this machine's
side files (notes of spans abandoned at exit) are kept, never the URL, which may hold a password.

``configure()`` itself lives in ``_runtime.py``: changing the store must flush the old one,
which is the store's business, and this module stays below every other.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

MAX_FLUSH_INTERVAL_S = 1.0
LAKE_PREFIX = "ducklake:"
# A password in a libpq string (password=value, the value maybe quoted with \' escapes), in a URI's
# user info (scheme://user:password@host) or its query (?password=...): the one rule, used by
# store/_lake_url.redact_dsn for messages and here to name a lake's side files.
_DSN_PASSWORDS = (
    re.compile(r"(?i)(?<![?&])(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]*)(?=@)"),
    re.compile(r"(?i)([?&]password=)([^&\s]*)"),
)


def mask_dsn_passwords(text: str, mask: str = "[redacted]") -> str:
    """``text`` with every connection-string password replaced by ``mask`` (quoted values stay quoted)."""
    for pattern in _DSN_PASSWORDS:
        text = pattern.sub(lambda m: m.group(1) + (f"'{mask}'" if m.group(2).startswith("'") else mask), text)
    return text


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
    # A DuckLake store's data files (a folder or s3://...); None: $LLMOPS_NB_DATA_PATH.
    data_path: str | None = None
    # A file holding the key of an encrypted store (a path, never the key: settings are shown); None:
    # $LLMOPS_NB_DB_KEY_FILE, else the key in $LLMOPS_NB_DB_KEY, else no encryption (store/_encryption.py).
    db_key_file: str | None = None
    # A DuckLake store compacts itself in the background once this many commits piled up since its
    # last compaction (store/_auto_maintain.py); 0: never. None: $LLMOPS_NB_AUTO_MAINTAIN, else 500.
    auto_maintain: int | None = None
    # PII handled before a span is stored or exported (llmops_nb/pii): an action ("mask"), a dict or
    # a policy file. None: $LLMOPS_NB_PII (an action or a file path), else PII is kept as written.
    pii: object = None
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

    def __repr__(self) -> str:
        # configure() returns the settings, so a notebook cell shows this: never a lake's password
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        if isinstance(shown["db"], str):
            shown["db"] = mask_dsn_passwords(shown["db"])
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    def db_path(self) -> Path:
        lake = self.lake_url()
        if lake is not None:  # a local stand-in, named by a digest of the URL without its password
            digest = hashlib.sha256(mask_dsn_passwords(lake).encode()).hexdigest()[:16]
            return _data_home() / f"lake-{digest}.duckdb"
        if self.db:
            return Path(self.db).expanduser()
        env = os.environ.get("LLMOPS_NB_DB")
        if env:
            return Path(env).expanduser()
        return _data_home() / "llmops.duckdb"

    def lake_url(self) -> str | None:
        """The configured ``ducklake:...`` URL, or None when the store is a DuckDB file."""
        chosen = self.db or os.environ.get("LLMOPS_NB_DB")
        return chosen if chosen and chosen.startswith(LAKE_PREFIX) else None

    def lake_data_path(self) -> str | None:
        return self.data_path or os.environ.get("LLMOPS_NB_DATA_PATH") or None


def _data_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "llmops_nb"


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
