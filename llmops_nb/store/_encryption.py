"""The store's DuckDB file encrypted at rest: where the key comes from, when it is used, and the crypto.

**The key** is text of at least ``MIN_KEY_CHARS`` characters (whitespace around it is dropped, so a
key file may end with a newline), read afresh at every open, first found wins:

1. the file named by ``llmops_nb.configure(db_key_file=...)``,
2. else the file named by ``$LLMOPS_NB_DB_KEY_FILE``,
3. else ``$LLMOPS_NB_DB_KEY``, the key itself.

Both variables set at once is refused: which one is meant cannot be guessed. No setting holds the
key itself, because settings are shown (``configure()`` returns them into a notebook's output); a
path is no secret. ``$LLMOPS_NB_DB_KEY``'s value is redacted wherever it appears (``_redact``: a
``*_KEY`` variable is a secret by name, its value by value — from 8 characters, hence the minimum,
which also keeps out a guessable key). A key file's text never leaves this module and DuckDB: no
message, repr, ``status()`` or exception names it, and DuckDB's own messages never quote it.
``python -c "import secrets; print(secrets.token_urlsafe(32))" > key`` makes a good one.

**When it is used** — decided from the file's header, before DuckDB opens it:

- an encrypted file is opened with the key; without one it is refused, naming the variables;
- a new file is created encrypted when a key is set;
- the configured store (where traces go) with a key set refuses an existing unencrypted file rather
  than write traces in the clear: ``python -m llmops_nb store copy PLAIN NEW`` with the key set
  makes an encrypted copy, then point ``$LLMOPS_NB_DB`` at NEW. Other files opened by path (the
  ends of ``store copy``, a recording replayed from a file) are opened as they are, and so is
  ``store copy``'s SRC even when it is the configured store: that lets a plain store be copied
  into an encrypted DST.
- a wrong key is DuckDB's to find: it checks the key against the header before reading or writing
  anything, so the file is unchanged. Every refusal is a ``StoreError``: the recorder keeps the
  spans in memory and counts them, as for a locked file, until a key that works is set.

**The crypto**: DuckDB's built-in crypto (mbedtls) only reads encrypted files — it has no secure
random source for the nonces that writing needs — and its ``force_mbedtls_unsafe`` mode is never
used here. Writing takes DuckDB's httpfs extension (OpenSSL), LOADed explicitly (auto-load stays
off, nothing is downloaded): from the ``duckdb-extension-httpfs`` package built for this duckdb,
else from DuckDB's extension folder (``INSTALL httpfs`` once, online). DuckDB encrypts the WAL
itself; temporary files the instance spills are encrypted too (``temp_file_encryption``).

**Changing the key**: DuckDB has no re-keying, and one process has one key, so go through an export:
``python -m llmops_nb store export DIR`` with the old key, then ``python -m llmops_nb store copy DIR
NEW.duckdb`` with the new one (DIR holds plain Parquet files meanwhile: delete it after). The same
route makes an unencrypted copy of an encrypted store.

Several kernels share an encrypted file as they share a plain one (``_connection.py``): each
attaches it per use, with the same key. A DuckLake store is refused with a key set: DuckLake
encrypts its data files with keys it makes and keeps in its catalog (its ``ENCRYPTED`` option), not
with a key of yours, so passing yours through would promise what it does not do.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import stat
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._config import settings
from .._safety import log_once
from ._errors import INSTALL_CRYPTO, SET_KEY, StoreEncryptionError, StoreKeyError

__all__ = ["KEY_FILE_VARIABLE", "KEY_VARIABLE", "MIN_KEY_CHARS", "as_it_is", "attach_key", "is_encrypted",
           "key_source", "load_crypto", "refuse_key_for_lake"]

KEY_VARIABLE = "LLMOPS_NB_DB_KEY"
KEY_FILE_VARIABLE = "LLMOPS_NB_DB_KEY_FILE"
MIN_KEY_CHARS = 8
#: DuckDB's main header: checksum (8 bytes), "DUCK" (4), version (8), then flags; bit 0 of the first: encrypted
HEADER_BYTES = 28
_FLAGS_AT = 20
_ENCRYPTED_FLAG = 1

#: the file ``store copy`` reads from, opened as it is even when it is the configured store (this
#: thread only: the recorder's thread still refuses to write to it in the clear)
_as_it_is: contextvars.ContextVar[Path | None] = contextvars.ContextVar("llmops_nb_store_as_it_is", default=None)
#: DuckDB instances with httpfs loaded (loading costs ~130 ms once, ~1 ms again: done once per instance)
_crypto_loaded: weakref.WeakSet[Any] = weakref.WeakSet()


def key_source() -> str | None:
    """Where the key is set, as messages name it (never the key), or None when no key is set."""
    if settings.db_key_file:
        return f"the key file {settings.db_key_file} (configure(db_key_file=...))"
    key_file, key = os.environ.get(KEY_FILE_VARIABLE), os.environ.get(KEY_VARIABLE)
    if key_file and key:
        raise StoreKeyError(f"Both ${KEY_VARIABLE} and ${KEY_FILE_VARIABLE} are set: unset one, so that the store's "
                            "key is the one you mean.")
    if key_file:
        return f"the key file {key_file} (${KEY_FILE_VARIABLE})"
    return f"${KEY_VARIABLE}" if key else None


def configured_key() -> str | None:
    """The key, read now (a changed variable or key file counts from the next open), or None."""
    source = key_source()
    if source is None:
        return None
    key_file = settings.db_key_file or os.environ.get(KEY_FILE_VARIABLE)
    if key_file:
        key = _read_key_file(Path(os.fspath(key_file)).expanduser(), source)
    else:
        key = os.environ.get(KEY_VARIABLE, "").strip()
    if len(key) < MIN_KEY_CHARS or "\x00" in key:
        raise StoreKeyError(f"The store's key in {source} is {'empty' if not key else 'too short or has a NUL'}: "
                            f"use at least {MIN_KEY_CHARS} characters (python -c \"import secrets; "
                            "print(secrets.token_urlsafe(32))\" makes one).")
    return key


def _read_key_file(path: Path, source: str) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise StoreKeyError(f"The store's key cannot be read from {source}: {why}. Check the path and that your user "
                            "can read the file.") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        log_once("store.key_file_mode", None, f"llmops_nb: the store's key file {path} can be read by other users; "
                 f"make it yours alone: chmod 600 {path}")
    return text.strip()


def is_encrypted(head: bytes) -> bool:
    """Whether a DuckDB file's first ``HEADER_BYTES`` bytes (its main header) say it is encrypted."""
    return len(head) > _FLAGS_AT and bool(head[_FLAGS_AT] & _ENCRYPTED_FLAG)


def attach_key(path: Path, encrypted: bool | None, strict: bool) -> str | None:
    """The key to ATTACH ``path`` with, or None (see the module docstring for the rules).

    ``encrypted``: what the file's header says (None: the file is new); ``strict``: ``path`` is the
    configured store, which refuses to stay unencrypted once a key is set.
    """
    key = configured_key()
    strict = strict and _as_it_is.get() != path
    if encrypted and key is None:
        raise StoreKeyError(f"The llmops_nb store {path} is encrypted and no key is set: {SET_KEY}; or point "
                            "llmops_nb elsewhere with llmops_nb.configure(db=...) or $LLMOPS_NB_DB.")
    if encrypted is False and key is not None:
        if strict:
            raise StoreKeyError(
                f"The llmops_nb store {path} is not encrypted, but a key is set ({key_source()}), so nothing is "
                f"written to it in the clear. To encrypt it, copy it with the key set: python -m llmops_nb store "
                f"copy {path} NEW.duckdb, then point $LLMOPS_NB_DB (or configure(db=...)) at NEW.duckdb; or unset "
                "the key to use this file as it is.")
        return None  # a plain file opened by path (a copy's SRC): read and written as it is
    return key


@contextlib.contextmanager
def as_it_is(path: Path) -> Iterator[None]:
    """In this block, this thread opens ``path`` plain or encrypted as it is (``store copy``'s SRC)."""
    token = _as_it_is.set(path)
    try:
        yield
    finally:
        _as_it_is.reset(token)


def load_crypto(con: Any) -> None:
    """LOAD DuckDB's httpfs extension (OpenSSL) into ``con`` once, so it can write encrypted files."""
    import duckdb

    if con in _crypto_loaded:
        return
    found = _packaged_httpfs(duckdb.__version__)
    try:
        con.execute(f"LOAD '{_sql_string(os.fspath(found))}'" if found else "LOAD httpfs")
        con.execute("SET temp_file_encryption = true")
    except duckdb.Error as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreEncryptionError(f"An encrypted llmops_nb store needs DuckDB's httpfs extension, which encrypts "
                                   f"with OpenSSL; it could not be loaded for duckdb {duckdb.__version__} ({why}). "
                                   f"{INSTALL_CRYPTO}") from None
    _crypto_loaded.add(con)


def _packaged_httpfs(version: str) -> Path | None:
    """httpfs from the ``duckdb-extension-httpfs`` package, when it is installed and built for this duckdb."""
    try:
        package = importlib.import_module("duckdb_extension_httpfs")
    except ImportError:
        return None
    found = Path(str(package.__file__)).parent / "extensions" / f"v{version}" / "httpfs.duckdb_extension"
    return found if found.is_file() else None


def refuse_key_for_lake(label: str) -> None:
    """A DuckLake store with a key set: refused (see the module docstring), naming what to do instead."""
    source = key_source()
    if source is not None:
        raise StoreKeyError(
            f"A key is set ({source}), but {label} is a DuckLake store: DuckLake encrypts its data files with keys it "
            "keeps in its catalog, not with yours, and llmops_nb does not pass a key to it. Unset the key for this "
            "process, or use an encrypted DuckDB file (llmops_nb.configure(db='traces.duckdb')).")


def _sql_string(text: str) -> str:
    return text.replace("'", "''")
