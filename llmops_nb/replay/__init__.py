"""Record and replay of LLM calls: a notebook re-runs the same in CI with no key, an evaluation re-scores for free.

    llmops_nb.replay.start("record")             # or %llm_replay record, or LLMOPS_NB_REPLAY=record
    ...                                          # every LLM call is stored with its whole response
    llmops_nb.replay.export("notebook.llmops")   # one portable file next to the notebook
    llmops_nb.replay.start("strict", file="notebook.llmops")  # answers from it; no network, no key

Modes: ``record`` sends calls and stores them; ``strict`` (alias ``replay``) answers every LLM
call from the recording and refuses an unrecorded one with an error naming it and the nearest
recorded call, with a diff; ``fallthrough`` answers what was recorded and sends (and records) the
rest; ``off``. Answers come from the store (``recording=`` names which) or from a file (``file=``).
Calls are matched on method, path and normalized body (see ``_request.py`` for what is ignored);
equal requests are answered in recorded order. A replayed span carries the attribute
``llmops_nb.replay = "replayed"``, a recorded one ``"recorded"``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._recording import Index, RecordedCall
from ._request import DEFAULT_IGNORE_KEYS, DEFAULT_IGNORE_PATTERNS, Normalizer
from ._storage import RecordingError, Writer, delete, packages, read_calls, read_file, recordings, write_file
from ._storage import insert as _insert
from ._wire import MODES, Session, activate, current

__all__ = ["DEFAULT_IGNORE_KEYS", "DEFAULT_IGNORE_PATTERNS", "RecordingError", "delete", "export", "flush",
           "import_", "mode", "recordings", "start", "status", "stop"]

logger = logging.getLogger("llmops_nb.replay")
_ALIASES = {"replay": "strict", "on": "strict"}
_writer = Writer()


def default_recording() -> str:
    """``$LLMOPS_NB_RECORDING``, else the notebook's name (Jupyter tells the kernel), else ``default``."""
    named = os.environ.get("LLMOPS_NB_RECORDING")
    if named:
        return named
    notebook = os.environ.get("JPY_SESSION_NAME")
    return Path(notebook).stem if notebook else "default"


def start(mode: str = "record", *, recording: str | None = None, file: str | os.PathLike[str] | None = None,
          ignore_keys: Iterable[str] | None = None, ignore_patterns: Iterable[str] | None = None) -> None:
    """Turn record or replay on for this process (``off`` turns it off).

    ``recording`` names what is recorded or replayed from the store (default: see
    :func:`default_recording`); ``file`` replays from an exported recording instead. ``ignore_keys``
    and ``ignore_patterns`` name the non-deterministic parts of requests (body keys, regular
    expressions inside strings) left out of the match; a file brings the rule it was recorded with.
    """
    if not isinstance(mode, str) or _ALIASES.get(mode.lower(), mode.lower()) not in MODES:
        raise ValueError(f"Unknown replay mode {mode!r}: use one of record, replay (= strict), strict, "
                         "fallthrough, off.")
    mode = _ALIASES.get(mode.lower(), mode.lower())
    if mode == "off":
        activate(None)
        return
    if file is not None and mode == "record":
        raise ValueError("record writes to the store; to make a file, record and then call "
                         "llmops_nb.replay.export(path) (or use python -m llmops_nb run NOTEBOOK --record FILE).")
    if recording is not None and (not isinstance(recording, str) or not recording.strip()):
        raise ValueError(f"recording must be a non-empty name, got {recording!r}.")
    calls: list[RecordedCall] = []
    rule: dict[str, Any] = {}
    if file is not None:
        calls, meta = read_file(file)
        rule = meta["rule"]
        _warn_on_other_versions(os.fspath(file), meta["packages"])
        names = sorted({c.recording for c in calls})
        name = recording or (names[0] if len(names) == 1 else default_recording())
        source = os.fspath(file)
    else:
        name = recording or default_recording()
        source = "the store"
        if mode != "record":
            calls = read_calls(name)
    normalizer = Normalizer.of(rule.get("ignore_keys") if ignore_keys is None else ignore_keys,
                               rule.get("ignore_patterns") if ignore_patterns is None else ignore_patterns)
    activate(Session(mode, name, normalizer, Index(calls), _writer.put, source))


def _warn_on_other_versions(file: str, recorded_with: dict[str, str]) -> None:
    # The SDK parses the replayed bytes: a newer SDK may expect fields an old recording lacks.
    here = packages()
    changed = {name: (old, here[name]) for name, old in recorded_with.items()
               if name in ("openai", "anthropic") and name in here and old.split(".")[:2] != here[name].split(".")[:2]}
    if changed:
        logger.warning("llmops_nb: %s was recorded with %s; this kernel has %s. Replies replay through the SDK "
                       "installed here: if it fails to read them, record again.", file,
                       ", ".join(f"{n} {old}" for n, (old, _) in changed.items()),
                       ", ".join(f"{n} {new}" for n, (_, new) in changed.items()))


def stop() -> None:
    """Turn record/replay off; what was recorded stays in the store."""
    activate(None)


def mode() -> str:
    session = current()
    return session.mode if session is not None else "off"


def serves_offline() -> bool:
    """True when no LLM call may leave the process (strict replay): providers need no server or key."""
    session = current()
    return session is not None and session.mode == "strict"


def flush(timeout: float | None = 30.0) -> bool:
    """Wait until every recorded call is in the store; False if that did not finish in ``timeout`` s."""
    return _writer.flush(timeout)


def status() -> dict[str, Any]:
    """The mode, the recording, and what happened to calls so far (nothing is dropped silently)."""
    session = current()
    info: dict[str, Any] = {"mode": mode(), "recording": session.recording if session else None,
                            "source": session.source if session else None,
                            "recorded_calls_available": len(session.index) if session else 0,
                            "written": _writer.written, "record_failures": _writer.failures,
                            "last_error": _writer.last_error}
    if session is not None:
        info.update(session.counts, repeated=session.index.repeats)
    return info


def export(path: str | os.PathLike[str], recording: str | None = None) -> Path:
    """Write one recording from the store to a portable file (Parquet); returns its path.

    >>> llmops_nb.replay.export("quickstart.llmops")  # doctest: +SKIP
    """
    flush()
    session = current()
    name = recording or (session.recording if session else default_recording())
    calls = read_calls(name)
    if not calls:
        raise ValueError(f"The store holds no recorded calls for recording {name!r}: record first "
                         "(llmops_nb.replay.start('record') or %llm_replay record), or name another with "
                         "recording= (llmops_nb.replay.recordings() lists them).")
    normalizer = session.normalizer if session is not None else Normalizer.of()
    rule = {"ignore_keys": list(normalizer.ignore_keys), "ignore_patterns": list(normalizer.ignore_patterns)}
    return write_file(path, calls, rule)


def import_(path: str | os.PathLike[str], recording: str | None = None) -> int:
    """Copy a recording file's calls into the store (under ``recording``, default its own name)."""
    calls, _ = read_file(path)
    if recording is not None:
        calls = [dataclasses.replace(c, recording=recording) for c in calls]
    if calls:
        _insert(calls)
    return len(calls)


def start_from_environment() -> None:
    """Apply ``LLMOPS_NB_REPLAY`` (mode), ``LLMOPS_NB_REPLAY_FILE`` and ``LLMOPS_NB_RECORDING`` at import."""
    wanted = os.environ.get("LLMOPS_NB_REPLAY")
    if wanted and wanted.lower() != "off":
        try:
            start(wanted, file=os.environ.get("LLMOPS_NB_REPLAY_FILE") or None)
        except (ValueError, RecordingError) as exc:
            raise ValueError(f"LLMOPS_NB_REPLAY={wanted!r}: {exc}") from None

