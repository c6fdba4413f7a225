"""Key references in the gateway config, and their resolution when a call needs the key.

A config names keys, never holds them: ``os.environ/OPENAI_API_KEY`` (LiteLLM's form) or
``secrets/OPENAI`` (a name in the YAML or JSON file ``general_settings.secrets_file``). The config is
read by many and ends up in traces; a key written in it would be copied everywhere, so a literal key
is refused at load time (``_config.py``), and a reference is resolved per call by
:func:`resolve_secret`, so a rotated key is used from the next request on.

Errors name the variable, the file and the name; never a value.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

from .._errors import did_you_mean
from ._errors import GatewayConfigError

__all__ = ["ENV_PREFIX", "SECRETS_PREFIX", "reference_problem", "resolve_secret"]

ENV_PREFIX = "os.environ/"
SECRETS_PREFIX = "secrets/"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SECRET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")

# The secrets file's parsed mapping, keyed by (path, mtime, size): read again as soon as it changes, but
# not parsed again for every request of a busy gateway.
_cache: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def reference_problem(value: object) -> str | None:
    """None when ``value`` is a well-formed reference; else what is wrong, without quoting the value.

    ``"literal"`` means it is no reference at all (so probably a key written out).
    """
    if not isinstance(value, str):
        return "literal"
    if value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX):]
        return None if _ENV_NAME.match(name) else (
            "after os.environ/ must come an environment variable's name (letters, digits and _)")
    if value.startswith(SECRETS_PREFIX):
        name = value[len(SECRETS_PREFIX):]
        return None if _SECRET_NAME.match(name) else (
            "after secrets/ must come a name of the secrets file (letters, digits, _ . -)")
    return "literal"


def resolve_secret(ref: str | None, secrets_file: str | os.PathLike[str] | None = None) -> str | None:
    """The key a reference names: ``os.environ/NAME`` from the environment, ``secrets/NAME`` from the file.

    ``None`` stays ``None`` (a deployment without a key). ``~`` in ``secrets_file`` is expanded.

    >>> import os; os.environ["DOC_GATEWAY_KEY"] = "k-123"
    >>> resolve_secret("os.environ/DOC_GATEWAY_KEY")
    'k-123'
    """
    if ref is None:
        return None
    problem = reference_problem(ref)
    if problem == "literal":
        raise GatewayConfigError("a key reference must be os.environ/NAME or secrets/NAME; the value given is "
                                 "neither (not shown: it may be a key)")
    if problem is not None:
        raise GatewayConfigError(f"bad key reference: {problem}")
    if ref.startswith(ENV_PREFIX):
        name = ref[len(ENV_PREFIX):]
        value = os.environ.get(name)
        if not value:
            state = "is empty" if value == "" else "is not set"
            raise GatewayConfigError(
                f"the environment variable {name} {state} ({ref} in the gateway config); set it before the "
                f"gateway starts, e.g. in a notebook: os.environ[{name!r}] = getpass.getpass()")
        return value
    name = ref[len(SECRETS_PREFIX):]
    if secrets_file is None:
        raise GatewayConfigError(f"{ref} names a secret, but no secrets file is set; add "
                                 f"general_settings.secrets_file: <a YAML file of NAME: value lines>")
    path = Path(secrets_file).expanduser()
    secrets = _read_secrets(path)
    if name not in secrets:
        names = [key for key in secrets if isinstance(key, str)]
        raise GatewayConfigError(f"the secrets file {path} has no {name!r} (asked for by {ref}); add a line "
                                 f"'{name}: <the key>' to it.{did_you_mean(name, names)}")
    value = secrets[name]
    if not isinstance(value, str) or not value:
        raise GatewayConfigError(f"the secrets file {path}: {name} must be a non-empty string (quote it); "
                                 f"the value is not shown")
    return value


def _read_secrets(path: Path) -> dict[str, Any]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise GatewayConfigError(f"the secrets file {path} does not exist (general_settings.secrets_file); "
                                 f"create it with one 'NAME: key' line per secret, readable only by you "
                                 f"(chmod 600)") from None
    except OSError as exc:
        raise GatewayConfigError(f"cannot read the secrets file {path} ({exc.strerror})") from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(str(path))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    secrets = _parse_secrets(path)
    with _cache_lock:
        _cache[str(path)] = (stamp, secrets)
    return secrets


def _parse_secrets(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise GatewayConfigError(f"cannot read the secrets file {path} ({reason})") from None
    # Parse errors say where, never what: the text around a mistake is a key.
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GatewayConfigError(f"the secrets file {path} line {exc.lineno} is not valid JSON") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise GatewayConfigError(f"the secrets file {path}{where} is not valid YAML; write one "
                                     f"'NAME: key' line per secret") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise GatewayConfigError(f"the secrets file {path} must hold a mapping of 'NAME: key' lines")
    return data
