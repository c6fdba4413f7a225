"""The registry as pandas DataFrames: ``list()``, ``search()``, ``versions()``, ``alias_history()``."""

from __future__ import annotations

import json
import math
from typing import Any

from ._refs import check_name, uri

_VERSION_SELECT = """
SELECT v.name, v.version, v.prompt_type, v.commit_message, v.template, v.variables, v.tags, v.model_config,
       v.author, make_timestamp(v.created_ns // 1000) AS created_at,
       (SELECT list(a.alias ORDER BY a.alias) FROM prompt_aliases a
        WHERE a.name = v.name AND a.version = v.version) AS aliases
FROM prompt_versions v
"""
_JSON = ("template", "variables", "tags", "model_config")


def list_prompts() -> Any:
    """Every prompt in the store, one row each: latest version, version count, aliases, last commit message.

    >>> from llmops_nb import prompts
    >>> prompts.list()  # doctest: +SKIP
    """
    frame = _query("""
        SELECT name, max(version) AS latest_version, count(*) AS versions,
               arg_max_null(prompt_type, version) AS prompt_type,
               arg_max_null(commit_message, version) AS latest_commit_message,
               arg_max_null(tags, version) AS tags,
               make_timestamp(min(created_ns) // 1000) AS created_at,
               make_timestamp(max(created_ns) // 1000) AS updated_at
        FROM prompt_versions GROUP BY name ORDER BY name""", [])
    aliases = _query("SELECT name, alias, version FROM prompt_aliases ORDER BY name, alias", [])
    by_name: dict[str, dict[str, int]] = {}
    for name, alias, version in aliases.itertuples(index=False):
        by_name.setdefault(name, {})[alias] = int(version)
    frame.insert(3, "aliases", _objects(frame, [by_name.get(n, {}) for n in frame["name"]]))
    frame["tags"] = _objects(frame, [_loads(v) or {} for v in frame["tags"]])
    return frame


def versions(name: str) -> Any:
    """Every version of ``name``, newest first, with aliases, commit messages, templates and metadata.

    >>> from llmops_nb import prompts
    >>> prompts.versions("qa")[["version", "aliases", "commit_message"]]  # doctest: +SKIP
    """
    name = check_name(name)
    frame = _query(_VERSION_SELECT + " WHERE v.name = ? ORDER BY v.version DESC", [name])
    if frame.empty:
        from ._registry import resolve_version

        resolve_version(name)  # raises PromptNotFoundError with did-you-mean
    return _finish(frame)


def search(text: str | None = None, *, name: str | None = None, tag: str | dict[str, str] | None = None,
           latest_only: bool = False) -> Any:
    """Versions across prompts matching every filter given, newest first.

    ``text``: case-insensitive, in the name, template or commit message; ``name``: exact, or a
    glob with ``*``/``?``; ``tag``: ``"task=qa"`` or ``{"task": "qa"}``; ``latest_only``: one row per prompt.

    >>> from llmops_nb import prompts
    >>> prompts.search("refund", tag="team=support")  # doctest: +SKIP
    """
    where, params = [], []
    if text is not None:
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}.")
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(v.name ILIKE ? ESCAPE '\\' OR v.template ILIKE ? ESCAPE '\\' "
                     "OR v.commit_message ILIKE ? ESCAPE '\\')")
        params += [pattern] * 3
    if name is not None:
        where.append("v.name GLOB ?" if any(ch in str(name) for ch in "*?[") else "v.name = ?")
        params.append(str(name))
    for key, value in _tags(tag).items():
        where.append("json_extract_string(v.tags, ?) = ?")
        params += ['$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"', value]
    if latest_only:
        where.append("v.version = (SELECT max(w.version) FROM prompt_versions w WHERE w.name = v.name)")
    query = _VERSION_SELECT + (" WHERE " + " AND ".join(where) if where else "")
    return _finish(_query(query + " ORDER BY v.created_ns DESC, v.name, v.version DESC", params))


def alias_history(name: str, alias: str | None = None) -> Any:
    """Every alias move of ``name`` (or of one alias), oldest first: who, when, from which version to which.

    >>> from llmops_nb import prompts
    >>> prompts.alias_history("qa", "production")  # doctest: +SKIP
    """
    name = check_name(name)
    where, params = "name = ?", [name]
    if alias is not None:
        where, params = where + " AND alias = ?", [name, alias]
    frame = _query(f"""
        SELECT make_timestamp(changed_ns // 1000) AS changed_at, name, alias, action, from_version, to_version,
               author
        FROM prompt_alias_history WHERE {where} ORDER BY seq""", params)
    if frame.empty:
        from ._registry import resolve_version

        resolve_version(name)
    for column in ("from_version", "to_version"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _finish(frame: Any) -> Any:
    for column in _JSON:
        frame[column] = _objects(frame, [_loads(v) for v in frame[column]])
    for column in ("tags", "model_config"):
        frame[column] = _objects(frame, [v or {} for v in frame[column]])
    for column in ("commit_message", "author"):
        frame[column] = _objects(frame, [None if _missing(v) else v for v in frame[column]])
    frame["aliases"] = _objects(frame, [[*v] if isinstance(v, (list, tuple)) or hasattr(v, "tolist") else []
                                        for v in frame["aliases"]])
    frame.insert(2, "uri", [uri(n, int(v)) for n, v in zip(frame["name"], frame["version"], strict=True)])
    return frame


def _query(sql: str, params: list[Any]) -> Any:
    from ..store._connection import get_store

    with get_store().connect() as con:
        return con.execute(sql, params).df()


def _objects(frame: Any, values: list[Any]) -> Any:
    import pandas as pd

    return pd.Series(values, index=frame.index, dtype=object)


def _missing(value: Any) -> bool:
    """None, NaN or pandas.NA (what a NULL becomes in a DataFrame column)."""
    if value is None:
        return True
    if isinstance(value, (str, list, dict, tuple)):
        return False
    import pandas as pd

    return value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _loads(value: Any) -> Any:
    return None if _missing(value) else json.loads(value)


def _tags(tag: Any) -> dict[str, str]:
    if tag is None:
        return {}
    if isinstance(tag, dict):
        return {str(k): str(v) for k, v in tag.items()}
    key, sep, value = str(tag).partition("=")
    if not sep or not key:
        raise ValueError(f"Bad tag filter {tag!r}: write 'KEY=VALUE', e.g. tag='task=qa', or a dict.")
    return {key: value}
