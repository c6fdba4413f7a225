"""Prompt names, aliases and references: ``name``, ``name/3``, ``name@production``, ``prompts:/name/3``.

A reference is parsed into ``(name, version, alias)`` with at most one of version
and alias set; neither means the latest version.
"""

from __future__ import annotations

import re
from typing import Any

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
SCHEME = "prompts:/"
LATEST = "latest"


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > 256:
        raise ValueError(f"Bad prompt name {name!r}: use letters, digits, '_', '-' and '.' "
                         "(starting with a letter or digit), e.g. 'qa-answer'.")
    return name


def check_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or len(alias) > 256:
        raise ValueError(f"Bad alias {alias!r}: use letters, digits, '_', '-' and '.', starting with a letter, "
                         "e.g. 'production' or 'staging'.")
    if alias == LATEST:
        raise ValueError("'latest' always means the newest version and cannot be set or deleted; "
                         "pick another alias name, e.g. 'production'.")
    return alias


def check_version(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        if isinstance(version, str) and version.isdigit():
            version = int(version)
        else:
            raise TypeError(f"A version is a positive integer, e.g. 3; got {version!r}. "
                            "For an alias pass alias='production'.")
    if version < 1:
        raise ValueError(f"Versions start at 1; got {version}.")
    return version


def parse_ref(ref: Any) -> tuple[str, int | None, str | None]:
    """``"qa"``, ``"qa/3"``, ``"qa@production"`` or the URIs ``"prompts:/qa/3"``, ``"prompts:/qa@production"``.

    >>> parse_ref("prompts:/qa@production")
    ('qa', None, 'production')
    """
    if not isinstance(ref, str):
        raise TypeError(f"Expected a prompt name or URI string like 'prompts:/qa/3', got {type(ref).__name__}.")
    is_uri = ref.startswith(SCHEME)
    body = ref[len(SCHEME):] if is_uri else ref
    if not is_uri and ":" in body:
        raise ValueError(f"Malformed prompt URI {ref!r}: write 'prompts:/NAME/VERSION' or 'prompts:/NAME@ALIAS', "
                         "e.g. 'prompts:/qa/3' or 'prompts:/qa@production'.")
    name, version, alias = body, None, None
    if "@" in body:
        name, _, alias = body.partition("@")
        if not alias or "@" in alias or "/" in alias:
            raise ValueError(_malformed(ref))
    elif "/" in body:
        name, _, number = body.partition("/")
        if not number.isdigit() or int(number) < 1:
            raise ValueError(_malformed(ref) + f" {number!r} is not a version number.")
        version = int(number)
    elif is_uri:
        raise ValueError(_malformed(ref) + " A URI needs a version or an alias (or @latest).")
    if not name or not _NAME.fullmatch(name):
        raise ValueError(_malformed(ref))
    if alias is not None and alias.isdigit():  # "qa@3" reads as version 3
        version, alias = int(alias), None
    elif alias == LATEST:
        alias = None
    return name, version, alias


def _malformed(ref: str) -> str:
    return (f"Malformed prompt reference {ref!r}: write 'prompts:/NAME/VERSION', 'prompts:/NAME@ALIAS' "
            "(or without the scheme: 'qa/3', 'qa@production'), e.g. 'prompts:/qa/3'.")


def uri(name: str, version: int) -> str:
    return f"{SCHEME}{name}/{version}"
