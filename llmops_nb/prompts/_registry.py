"""Registering, loading and aliasing prompt versions in the store.

Every change is one transaction on the store's connection. Within a process the
connection is used by one thread at a time, and across processes DuckDB's file
lock admits one process at a time, so "read the latest version, insert the next"
cannot interleave with another writer: versions are gap-free and nothing is lost.
On a DuckLake store, where many processes write at once, each change runs inside
``store.exclusive("prompts")`` (a PostgreSQL advisory lock) for the same guarantee,
and an alias moves by a delete and an insert (DuckLake has no upsert). Each new version
and alias change appends its audit-trail row in the same transaction (``store/_audit.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._config import current_author
from .._errors import did_you_mean
from .._redact import REDACTED, redact_mapping
from ..store import _audit
from . import _template
from ._errors import PromptNotFoundError
from ._link import link_current_span
from ._refs import LATEST, check_alias, check_name, check_version, parse_ref
from ._version import PromptVersion

_COLUMNS = "name, version, template, commit_message, tags, model_config, author, created_ns"


def register(name: str, template: Any, commit_message: str | None = None, tags: dict[str, Any] | None = None,
             model_config: dict[str, Any] | None = None, *, author: str | None = None) -> PromptVersion:
    """Register ``template`` as the next immutable version of ``name`` (1 for a new prompt).

    ``template`` is a string or a list of ``{"role", "content"}`` messages with ``{{variable}}``
    placeholders. Content equal to the latest version's (template, tags and model_config)
    returns that version instead of a duplicate.

    >>> from llmops_nb import prompts
    >>> p = prompts.register("qa", "Answer briefly: {{question}}", commit_message="first")  # doctest: +SKIP
    >>> p.version  # doctest: +SKIP
    1
    """
    return register_version(name, template, commit_message, tags, model_config, author=author)[0]


def register_version(name: str, template: Any, commit_message: str | None = None, tags: Any = None,
                     model_config: Any = None, *, author: str | None = None) -> tuple[PromptVersion, bool]:
    """``register`` that also says whether a new version was created (False: identical to the latest)."""
    name = check_name(name)
    template = _template.check_template(template)
    tags = _template.check_tags(tags)
    model_config = _template.check_model_config(model_config)
    if commit_message is not None and not isinstance(commit_message, str):
        raise TypeError(f"commit_message must be a string, got {type(commit_message).__name__}.")
    template, tags, model_config, commit_message = _without_secrets(name, template, tags, model_config,
                                                                    commit_message)
    digest = _template.content_sha256(template, tags, model_config)
    who = current_author(author)
    with _transaction() as con:
        row = con.execute("SELECT version, content_sha256 FROM prompt_versions WHERE name = ? "
                          "ORDER BY version DESC LIMIT 1", [name]).fetchone()
        created = not (row and row[1] == digest)
        version = (row[0] + 1 if row else 1) if created else row[0]
        if created:
            con.execute(
                "INSERT INTO prompt_versions (name, version, template, prompt_type, variables, commit_message, "
                "tags, model_config, content_sha256, author, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [name, version, _dumps(template), _template.prompt_type(template),
                 _dumps(_template.variables(template)), commit_message, _dumps(tags) if tags else None,
                 _dumps(model_config) if model_config else None, digest, who, time.time_ns()])
            _audit.append(con, "prompt.version_created", f"prompts:/{name}/{version}",
                          {"name": name, "version": version, "content_sha256": digest}, actor=who)
        prompt = _fetch(con, name, version, None)
    return prompt, created


def load(name_or_uri: str, version: int | str | None = None, alias: str | None = None) -> PromptVersion:
    """Load a version: by name (latest), ``version=``, ``alias=``, or a URI.

    >>> from llmops_nb import prompts
    >>> prompts.load("qa")                       # doctest: +SKIP
    >>> prompts.load("qa", version=2)            # doctest: +SKIP
    >>> prompts.load("prompts:/qa@production")   # doctest: +SKIP

    Inside a trace, the current span records the prompt's name, version and URI.
    """
    prompt = get(name_or_uri, version, alias)
    link_current_span(prompt)
    return prompt


def get(name_or_uri: str, version: int | str | None = None, alias: str | None = None) -> PromptVersion:
    """``load`` without recording the prompt on the current span (for diffs and listings)."""
    name, version, alias = _resolve_args(name_or_uri, version, alias)
    from ..store._connection import get_store

    with get_store().connect() as con:
        return _fetch(con, name, version, alias)


def resolve_version(name: str, version: Any = None, alias: str | None = None) -> int:
    """The version number a (name, version, alias) reference means now."""
    from ..store._connection import get_store

    name, version, alias = _resolve_args(name, version, alias)
    with get_store().connect() as con:
        return _version_number(con, name, version, alias)


def set_alias(name: str, alias: str, version: int | str, *, author: str | None = None) -> PromptVersion:
    """Point ``alias`` at ``version`` (a number, or another alias to promote, or 'latest'); moves are recorded.

    >>> from llmops_nb import prompts
    >>> prompts.set_alias("qa", "production", 3)          # doctest: +SKIP
    >>> prompts.set_alias("qa", "production", "staging")  # doctest: +SKIP
    """
    name, alias = check_name(name), check_alias(alias)
    who = current_author(author)
    with _transaction() as con:
        if isinstance(version, str) and not version.isdigit():
            target = _version_number(con, name, None, None if version == LATEST else check_alias(version))
        else:
            target = _version_number(con, name, check_version(version), None)
        _move(con, name, alias, target, who)
        return _fetch(con, name, target, None)


def delete_alias(name: str, alias: str, *, author: str | None = None) -> None:
    """Remove ``alias`` from ``name`` (the deletion is recorded in ``alias_history``).

    >>> from llmops_nb import prompts
    >>> prompts.delete_alias("qa", "staging")  # doctest: +SKIP
    """
    name, alias = check_name(name), check_alias(alias)
    who = current_author(author)
    with _transaction() as con:
        _version_number(con, name, None, alias)  # raises, naming the aliases that exist
        _move(con, name, alias, None, who)


def rollback(name: str, alias: str = "production", *, to: int | None = None,
             author: str | None = None) -> PromptVersion:
    """Move ``alias`` back to the version it pointed to before its last change (or to ``to=``).

    Rollback is an alias move like any other, recorded in ``alias_history`` with who and when;
    rolling back twice returns to where you started.

    >>> from llmops_nb import prompts
    >>> prompts.rollback("qa", "production")  # doctest: +SKIP
    """
    name, alias = check_name(name), check_alias(alias)
    who = current_author(author)
    with _transaction() as con:
        if to is None:
            _version_number(con, name, None, None)  # unknown prompt → did-you-mean
            row = con.execute("SELECT action, from_version, to_version FROM prompt_alias_history "
                              "WHERE name = ? AND alias = ? ORDER BY seq DESC LIMIT 1", [name, alias]).fetchone()
            if row is None or row[1] is None:
                why = "was never set" if row is None else f"was first set to v{row[2]} and never moved"
                raise PromptNotFoundError(f"{name}@{alias} {why}: there is nothing to roll back to. "
                                          f"Pick a version: prompts.rollback({name!r}, {alias!r}, to=VERSION).")
            target = row[1]
        else:
            target = _version_number(con, name, check_version(to), None)
        _move(con, name, alias, target, who)
        return _fetch(con, name, target, None)


def _move(con: Any, name: str, alias: str, version: int | None, author: str) -> None:
    from ..store._connection import get_store

    replace = not get_store().supports_upsert  # DuckLake: no ON CONFLICT, so delete then insert
    now = time.time_ns()
    row = con.execute("SELECT version FROM prompt_aliases WHERE name = ? AND alias = ?", [name, alias]).fetchone()
    previous = row[0] if row else None
    if previous == version:
        return  # already there: nothing moved, nothing to record
    if version is None or replace:
        con.execute("DELETE FROM prompt_aliases WHERE name = ? AND alias = ?", [name, alias])
    if version is not None and replace:
        con.execute("INSERT INTO prompt_aliases (name, alias, version, author, updated_ns) VALUES (?, ?, ?, ?, ?)",
                    [name, alias, version, author, now])
    elif version is not None:
        con.execute("INSERT INTO prompt_aliases (name, alias, version, author, updated_ns) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (name, alias) DO UPDATE SET version = EXCLUDED.version, author = EXCLUDED.author, "
                    "updated_ns = EXCLUDED.updated_ns", [name, alias, version, author, now])
    con.execute("INSERT INTO prompt_alias_history (seq, name, alias, action, from_version, to_version, author, "
                "changed_ns) SELECT COALESCE(max(seq), 0) + 1, ?, ?, ?, ?, ?, ?, ? FROM prompt_alias_history",
                [name, alias, "delete" if version is None else "set", previous, version, author, now])
    action = "prompt.alias_deleted" if version is None else "prompt.alias_set" if previous is None \
        else "prompt.alias_moved"
    _audit.append(con, action, f"prompts:/{name}@{alias}",
                  {"name": name, "alias": alias, "from_version": previous, "to_version": version}, actor=author)


def _resolve_args(ref: Any, version: Any, alias: Any) -> tuple[str, int | None, str | None]:
    name, ref_version, ref_alias = parse_ref(ref)
    if version is not None and alias is not None:
        raise ValueError("Pass version= or alias=, not both.")
    if version is not None or alias is not None:
        if ref_version is not None or ref_alias is not None:
            raise ValueError(f"{ref!r} already names a version; drop version=/alias= or pass just the name.")
        ref_version = check_version(version) if version is not None else None
        ref_alias = None if alias in (None, LATEST) else check_alias(alias)
    return name, ref_version, ref_alias


def _version_number(con: Any, name: str, version: int | None, alias: str | None) -> int:
    if alias is not None:
        row = con.execute("SELECT version FROM prompt_aliases WHERE name = ? AND alias = ?", [name, alias]).fetchone()
        if row is None:
            _check_exists(con, name)
            known = [r[0] for r in con.execute("SELECT alias FROM prompt_aliases WHERE name = ? ORDER BY alias",
                                               [name]).fetchall()]
            raise PromptNotFoundError(
                f"Prompt {name!r} has no alias {alias!r}.{did_you_mean(alias, known)} "
                f"Its aliases: {', '.join(known) or 'none yet'}. "
                f"Set one with prompts.set_alias({name!r}, {alias!r}, VERSION).")
        return row[0]
    latest = con.execute("SELECT max(version) FROM prompt_versions WHERE name = ?", [name]).fetchone()[0]
    if latest is None:
        _check_exists(con, name)
    if version is None:
        return latest
    if version > latest:
        raise PromptNotFoundError(f"Prompt {name!r} has no version {version}; its versions are 1 to {latest}. "
                                  f"See prompts.versions({name!r}).")
    return version


def _check_exists(con: Any, name: str) -> None:
    if con.execute("SELECT 1 FROM prompt_versions WHERE name = ? LIMIT 1", [name]).fetchone():
        return
    names = [r[0] for r in con.execute("SELECT DISTINCT name FROM prompt_versions ORDER BY name").fetchall()]
    hint = did_you_mean(name, names)
    known = f" Known prompts: {', '.join(names[:20])}{' …' if len(names) > 20 else ''}." if names else ""
    raise PromptNotFoundError(f"No prompt named {name!r} in the store.{hint}{known} "
                              f"Register it with prompts.register({name!r}, template).")


def _fetch(con: Any, name: str, version: int | None, alias: str | None) -> PromptVersion:
    number = _version_number(con, name, version, alias)
    row = con.execute(f"SELECT {_COLUMNS} FROM prompt_versions WHERE name = ? AND version = ?",
                      [name, number]).fetchone()
    aliases = tuple(r[0] for r in con.execute(
        "SELECT alias FROM prompt_aliases WHERE name = ? AND version = ? ORDER BY alias", [name, number]).fetchall())
    return from_row(row, aliases)


def from_row(row: Any, aliases: tuple[str, ...] = ()) -> PromptVersion:
    name, version, template, message, tags, config, author, created_ns = row
    return PromptVersion(name, int(version), json.loads(template), message, json.loads(tags) if tags else {},
                         json.loads(config) if config else {}, author,
                         dt.datetime.fromtimestamp(created_ns / 1e9, tz=dt.timezone.utc), aliases)


@contextmanager
def _transaction() -> Iterator[Any]:
    from ..store._connection import get_store

    store = get_store()
    # the audit trail's lock after the registry's, both before the transaction (see store/_audit.py)
    with store.exclusive("prompts"), _audit.locked(store), store.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def _without_secrets(name: str, *parts: Any) -> tuple[Any, ...]:
    """The version's content with credentials replaced, as everything that reaches the store.

    A prompt is no place for a key (``model_config={"api_key": ...}``, a token pasted in a
    template): it would sit in the store, in every export and every shared notebook.
    """
    clean = tuple(redact_mapping(part) if part is not None else None for part in parts)
    if clean != parts:
        warnings.warn(f"Prompt {name!r}: what looks like a credential was replaced by {REDACTED!r} before "
                      "storing it; pass keys to the client, not in prompts or model_config.", stacklevel=3)
    return clean


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=isinstance(value, dict))
