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


_POINT_ELSEWHERE = "or point llmops_nb elsewhere with llmops_nb.configure(db=...) or $LLMOPS_NB_DB"


def classify(exc: BaseException, path: Path) -> StoreError | None:
    """The StoreError behind ``exc`` (a DuckDB or OS error), or None when it is not about the file."""
    if isinstance(exc, StoreError):
        return exc
    text = str(exc)
    lowered = text.lower()
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


def corrupt(path: Path, why: str) -> StoreCorruptError:
    return StoreCorruptError(
        f"The llmops_nb store {path} cannot be read: {why}. Move the file aside (mv {path} {path}.broken) "
        f"so llmops_nb starts a new store there, {_POINT_ELSEWHERE}; DuckDB may still open the moved copy "
        "read-only for recovery."
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
