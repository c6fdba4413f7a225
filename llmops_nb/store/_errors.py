"""Why the store cannot be used, named, with what to do — never a raw DuckDB error or a wrong cause.

DuckDB reports a full disk, a permission problem, a damaged file, a file from a newer DuckDB and
another process's lock all as ``IOException`` with different texts; :func:`classify` turns each
into one of the errors below. Every one of them means "the store is unavailable, the spans are
fine": the writer keeps them and retries (within the memory bound) instead of blaming the data.
"""

from __future__ import annotations

import errno
from pathlib import Path

from .._errors import LlmopsError


class StoreError(LlmopsError, RuntimeError):
    """The store's file cannot be used right now; the message says why and what to do."""


class StoreLockedError(StoreError):
    """Another process kept the store's file locked for longer than the timeout."""


class StoreFullError(StoreError):
    """The disk holding the store is full."""


class StorePermissionError(StoreError):
    """The store's file or folder cannot be written (permissions, read-only file system)."""


class StoreReplacedError(StoreError):
    """A store object used after ``configure()`` moved to another store: take ``get_store()`` again."""


class StoreCorruptError(StoreError):
    """The file at the store's path is damaged, or is not a DuckDB file at all."""


class StoreVersionError(StoreError):
    """The file was written by a DuckDB version this one cannot read."""


class StoreEncryptionError(StoreError):
    """The store's encryption cannot be used here (DuckDB's httpfs extension, its crypto, is missing)."""


class StoreKeyError(StoreEncryptionError):
    """The store's key is missing, wrong or unreadable, or given for a file that is not encrypted."""


_POINT_ELSEWHERE = "or point llmops_nb elsewhere with llmops_nb.configure(db=...) or $LLMOPS_NB_DB"
#: where the key of an encrypted store comes from (store/_encryption.py); never the key itself
SET_KEY = ("set $LLMOPS_NB_DB_KEY to its key, or $LLMOPS_NB_DB_KEY_FILE (or llmops_nb.configure(db_key_file=...)) "
           "to a file holding it")


def classify(exc: BaseException, path: Path) -> StoreError | None:
    """The StoreError behind ``exc`` (a DuckDB or OS error), or None when it is not about the file."""
    if isinstance(exc, StoreError):
        return exc
    text = str(exc)
    lowered = text.lower()
    encryption = _encryption_error(text, path)
    if encryption is not None:
        return encryption
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC or "no space left" in lowered or "disk full" in lowered or "disk quota" in lowered:
        return StoreFullError(
            f"The disk holding the llmops_nb store {path} is full ({_first_line(text)}). Spans are kept in "
            f"memory (up to the memory bound) and written when space frees: free some space, {_POINT_ELSEWHERE}."
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS) or "permission denied" in lowered \
            or "read-only file system" in lowered:
        return StorePermissionError(
            f"The llmops_nb store {path} cannot be written ({_first_line(text)}). Give your user write access "
            f"to the file and its folder, {_POINT_ELSEWHERE}."
        )
    if "conflicting lock" in lowered or "could not set lock" in lowered:
        return StoreLockedError(
            f"The llmops_nb store {path} is locked by another process ({_first_line(text)}). Close the other "
            f"program holding it (a DuckDB shell, another kernel's duckdb.connect on this file), {_POINT_ELSEWHERE}."
        )
    if "newer version" in lowered or "older version" in lowered or "version number" in lowered \
            or "storage version" in lowered:
        return StoreVersionError(
            f"The llmops_nb store {path} was written by another DuckDB version ({_first_line(text)}). Upgrade "
            f"duckdb (pip install -U duckdb) to the version that wrote it, {_POINT_ELSEWHERE}."
        )
    if "not a valid duckdb database" in lowered or "corrupt" in lowered or "checksum" in lowered \
            or "invalid wal" in lowered or "failed to read database header" in lowered:
        return corrupt(path, _first_line(text))
    if isinstance(exc, OSError) or type(exc).__name__ == "IOException":
        # Any other I/O failure is the file's or the disk's, never the data's.
        return StoreError(f"The llmops_nb store {path} cannot be used ({_first_line(text)}). Check the path and "
                          f"its disk, {_POINT_ELSEWHERE}.")
    return None


def _encryption_error(text: str, path: Path) -> StoreEncryptionError | None:
    """DuckDB's words for a key it lacks, a wrong key, a key for a plain file, or no crypto to write with.

    ``_encryption.py`` names the first three before DuckDB sees the file (from its header); these are
    the net for what gets past that. None of DuckDB's texts quotes the key, nor does any message here.
    """
    lowered = text.lower()
    if "without a key" in lowered and "encrypted" in lowered:
        return StoreKeyError(f"The llmops_nb store {path} is encrypted and no key is set: {SET_KEY}, "
                             f"{_POINT_ELSEWHERE}. The file is unchanged.")
    if "wrong encryption key" in lowered:
        return StoreKeyError(f"The llmops_nb store {path} is encrypted with another key than the one set: {SET_KEY} "
                             f"(the key it was made with), {_POINT_ELSEWHERE}. The file is unchanged.")
    if "key is explicitly specified" in lowered and "not encrypted" in lowered:
        return StoreKeyError(f"The llmops_nb store {path} is not encrypted, but a key is set. Unset the key to use it "
                             f"as it is, or copy it into an encrypted file: python -m llmops_nb store copy {path} "
                             f"NEW.duckdb (with the key set); {_POINT_ELSEWHERE}.")
    if "read-only crypto module" in lowered:  # a file written without httpfs loaded (load_crypto failed)
        return StoreEncryptionError(f"The llmops_nb store {path} cannot be encrypted here: DuckDB's httpfs "
                                    f"extension, which encrypts with OpenSSL, is not loaded ({_first_line(text)}). "
                                    f"{INSTALL_CRYPTO}")
    return None


#: what to do when DuckDB's httpfs extension (its secure crypto) is missing
INSTALL_CRYPTO = (
    "DuckDB's built-in crypto only reads encrypted files (it has no secure random source to write them), and "
    "llmops_nb never uses its unsafe mode. Install httpfs for this duckdb: pip install "
    "duckdb-extension-httpfs==<your duckdb version> where PyPI has it, or once, online: "
    "python -c \"import duckdb; duckdb.sql('INSTALL httpfs')\"; or unset the key to use an unencrypted store.")


def corrupt(path: Path, why: str) -> StoreCorruptError:
    return StoreCorruptError(
        f"The llmops_nb store {path} cannot be read: {why}. Move the file aside (mv {path} {path}.broken) "
        f"so llmops_nb starts a new store there, {_POINT_ELSEWHERE}; DuckDB may still open the moved copy "
        "read-only for recovery."
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
