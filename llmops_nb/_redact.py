"""Secrets never reach the store, the logs, the exports or a saved notebook: one redaction layer.

Everything we record or display passes through here — cell source, inputs, outputs, attributes,
events, exception messages and tracebacks, headers and query/body parameters the SDKs were given,
log lines. Three kinds of secret are found:

- **by shape**: values that look like a credential wherever they appear — OpenAI/Anthropic/
  Langfuse ``sk-…``, Stripe ``sk_live_…``, AWS ``AKIA…``, GitHub ``ghp_…``/``github_pat_…``,
  Google ``AIza…``/``ya29.…``, Slack ``xox?-…``, Hugging Face ``hf_…``, JWTs, PEM private keys,
  ``Bearer``/``Basic`` credentials and the password in ``scheme://user:password@host``;
- **by name**: the value of a header, parameter, dict key, keyword argument or URL query
  parameter whose name says it is a secret (``api_key``, ``X-Auth``, ``Ocp-Apim-Subscription-Key``,
  ``client_secret``, ``password``, ``Cookie``…; in URL query strings also ``code`` and ``sig``),
  see :func:`is_secret_name`;
- **by value**: the current values of credential environment variables (``OPENAI_API_KEY``,
  ``AWS_SECRET_ACCESS_KEY``, ``PGPASSWORD``…), wherever they appear.

Speed matters because the writer redacts every span: Python's ``re`` scans an alternation of
these patterns at ~10 MB/s (114 µs for a typical span, measured), RE2 at ~600 MB/s (1 µs). So a
batch of strings is joined and scanned once with RE2 for anything that *might* be a secret (a
superset), and only the few strings it flags go through the precise rules below. Without the
``google-re2`` package the same trigger runs on ``re``: correct, just slower.
"""

from __future__ import annotations

import bisect
import functools
import os
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Any

try:  # RE2: linear-time, ~60x faster than re on this alternation
    import re2 as _fast_re
except ImportError:  # pragma: no cover - google-re2 is a dependency; keep working without it
    _fast_re = re

__all__ = ["REDACTED", "fast_re", "is_secret_name", "part_starts", "redact_mapping", "redact_strings", "redact_text"]

#: RE2 when installed, else ``re``: for other linear-time scans (the PII candidates, pii/_detect.py)
fast_re = _fast_re

REDACTED = "[redacted]"

# -- names ---------------------------------------------------------------------------------------
# A name is split into words (snake, kebab, dotted and camelCase); its last word decides.
_NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")
_SECRET_LAST_WORDS = frozenset({
    "key", "apikey", "token", "secret", "password", "passwd", "pwd", "passphrase", "passcode", "auth",
    "authorization", "credential", "credentials", "signature", "cookie", "privatekey", "accesskey",
    "secretkey", "sessiontoken", "accesstoken", "authtoken", "bearer",
})
# Short names that are credentials only in URL query strings and form bodies: OAuth's ``code``,
# Azure SAS's ``sig``. As dict keys elsewhere (``{"code": 200}``) they are ordinary.
_QUERY_ONLY_WORDS = frozenset({"code", "sig"})
# Names glued into one word, as environment variables often are (PGPASSWORD, MYAPIKEY).
_SECRET_SUFFIXES = ("password", "passwd", "apikey", "secret", "token", "accesskey", "secretkey")


def is_secret_name(name: object, *, query: bool = False) -> bool:
    """True when a header, parameter or key named ``name`` holds a credential.

    >>> is_secret_name("Ocp-Apim-Subscription-Key"), is_secret_name("max_tokens")
    (True, False)
    >>> is_secret_name("code"), is_secret_name("code", query=True)
    (False, True)
    """
    if not isinstance(name, str) or not name:
        return False
    words = _NAME_WORDS.findall(name)
    if not words:
        return False
    last = words[-1].lower()
    if last == "pwd" and len(words) == 1:
        return False  # $PWD is the working directory; DB_PWD and MYSQL_PWD are passwords
    if last in _SECRET_LAST_WORDS or (query and last in _QUERY_ONLY_WORDS):
        return True
    return "".join(words).lower().endswith(_SECRET_SUFFIXES)


# -- the precise rules (Python re, run only on strings the trigger flagged) ----------------------
_SHAPES = re.compile(
    r"""(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{16,}"""           # OpenAI, Anthropic (sk-ant-), Langfuse (sk-lf-)
    r"""|(?<![A-Za-z0-9])[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"""  # Stripe
    r"""|(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"""  # AWS access key id
    r"""|(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{30,}|github_pat_\w{30,}"""  # GitHub
    r"""|AIza[0-9A-Za-z_-]{35}|ya29\.[\w-]{20,}"""            # Google API key, OAuth access token
    r"""|xox[abposr]-[A-Za-z0-9-]{10,}"""                     # Slack
    r"""|(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}"""              # Hugging Face
    r"""|eyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,}"""             # JWT (header '{"' in base64url)
    r"""|-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z ]*PRIVATE KEY-----|$)"""
)
# "Authorization: Bearer <token>" and friends; a credential has digits, an English word has not.
_SCHEME_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)(\s+)(?=[\w.~+/=-]*\d)[\w.~+/-]{8,}=*")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@\"'<>]+:)([^@\s/\"'<>]+)(@)")
# A name, matched whole and only from its start: the lookahead-and-backreference is an atomic group
# (Python 3.10 has no possessive quantifiers), so a failed match never backtracks through the
# name's characters — without it these patterns were O(length × 80) on every flagged string.
_NAME = r"""(?<![A-Za-z0-9_.-])(?=(?P<name>[A-Za-z_][A-Za-z0-9_.-]{0,80}))(?P=name)"""
# name = "value", name: 'value', "name": "value", and the same inside JSON text (\"name\": \"value\")
_QUOTED_ASSIGNMENT = re.compile(
    _NAME + r"""(?P<q1>\\*["']?)(?P<op>\s*[:=]\s*)(?P<prefix>[rbuRBU]{0,2})(?P<q2>\\*["'])"""
    r"""(?P<value>[^"'\\\n]{1,4096})(?P=q2)"""
)
# ?name=value&... and name=value; (URL query strings, form bodies, connection strings). A value never
# starts or goes on with an escaped quote: in JSON text `api_key=\"sk-…\"` is the quoted rule's, and
# taking its backslash here left the stored JSON broken (a cell's source then showed as raw JSON).
_UNQUOTED_ASSIGNMENT = re.compile(
    r"""(?P<lead>^|[?&;\s,(])""" + _NAME + r"""=(?P<value>(?:[^\s&;#"'<>),\\]|\\(?!["'])){1,4096})""")
# A header written as text: "X-Api-Key: abc123..." (a value with a digit, so prose is left alone)
_HEADER_LINE = re.compile(
    r"""(?P<lead>^|[\s{,"'])""" + _NAME + r"""(?P<op>:[ \t]*)(?P<value>(?=[^\s"',}]*\d)[^\s"',}]{8,})""",
    re.MULTILINE)

# -- the trigger: a superset of the rules above, RE2-compatible (no look-around) -----------------
_TRIGGER_PARTS = (
    r"sk-[A-Za-z0-9_-]{16,}", r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}", r"A(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}",
    r"gh[pousr]_[A-Za-z0-9]{30,}", r"github_pat_", r"AIza[0-9A-Za-z_-]{35}", r"ya29\.", r"xox[abposr]-",
    r"hf_[A-Za-z0-9]{30,}", r"eyJ[\w-]{10,}\.", r"-----BEGIN[A-Z ]*PRIVATE KEY",
    r"(?i:bearer|basic)\s+[\w.~+/=-]{8,}", r"://[^/\s:@\"'<>]+:[^@\s/\"'<>]+@",
    # a secret-looking name followed by an assignment, a key/value colon or a header colon
    r"(?i:key|token|secret|passw(?:or)?d|pwd|passphrase|passcode|auth|authorization|credentials?|signature"
    r"|cookie|sig|code|bearer)(?:\\*[\"'])?\s*[:=]",
)
_TRIGGER_BASE = "|".join(_TRIGGER_PARTS)


class _Redactor:
    """The compiled trigger, including the literal values of credential environment variables."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._env_values: tuple[str, ...] = ()
        self._trigger: Any = self._compile(())

    @staticmethod
    def _compile(values: tuple[str, ...]) -> Any:
        pattern = _TRIGGER_BASE + "".join("|" + _literal(v) for v in values)
        if _fast_re is re:
            return re.compile(pattern)
        options = _fast_re.Options()
        options.max_mem = 64 << 20  # the default 8 MB is too little for this alternation on long text
        return _fast_re.compile(pattern, options)

    def current(self) -> tuple[Any, tuple[str, ...]]:
        """(trigger, env values), recompiled only when the credential environment changed."""
        values = _secret_env_values()
        if values != self._env_values:
            with self._lock:
                if values != self._env_values:
                    self._trigger = self._compile(values)
                    self._env_values = values
        return self._trigger, self._env_values


def _literal(value: str) -> str:
    # \xHH for ASCII punctuation: valid in both RE2 and re (re.escape's "\ " is not valid RE2)
    return "".join(ch if ch.isalnum() or ord(ch) > 127 else f"\\x{ord(ch):02x}" for ch in value)


@functools.lru_cache(maxsize=4096)
def _is_secret_variable(name: str) -> bool:
    # Asked for every variable on every redaction (the environment may change at any time): the
    # answer for a name never changes, and remembering it makes the scan ~10x cheaper.
    return is_secret_name(name)


def _secret_env_values() -> tuple[str, ...]:
    found = set()
    for name, value in list(os.environ.items()):
        # 8+ characters: a short value ("1", "true") would redact ordinary text everywhere; an
        # absolute path (a *_KEY_FILE, a *_TOKEN_PATH) is where a secret is, not the secret
        if len(value) >= 8 and _is_secret_variable(name) and not value.isspace() and not os.path.isabs(value):
            found.add(value)
    # longest first, so a value containing another is replaced whole
    return tuple(sorted(found, key=lambda v: (-len(v), v)))


_redactor = _Redactor()


def redact_text(text: str) -> str:
    """``text`` with every secret replaced by ``[redacted]``.

    >>> redact_text('client = OpenAI(api_key="hunter2-not-a-real-key")')
    'client = OpenAI(api_key="[redacted]")'
    """
    if not isinstance(text, str) or not text:
        return text
    trigger, env_values = _redactor.current()
    try:
        hit = trigger.search(text)
    except UnicodeEncodeError:  # a lone surrogate: RE2 needs UTF-8
        text = _valid_utf8(text)
        hit = trigger.search(text)
    return _redact_precisely(text, env_values) if hit is not None else text


def redact_strings(values: Sequence[Any]) -> list[Any]:
    """Redact many strings at once (``None`` and non-strings pass through).

    The strings are joined and scanned by the trigger in one pass (RE2's fixed cost per call is
    ~1 µs, as much as scanning 600 characters), then only the flagged ones are redacted precisely.
    When nothing is flagged — nearly always — ``values`` itself is returned (as a list), so the
    common case costs one join and one scan, no per-value Python work.
    """
    trigger, env_values = _redactor.current()
    try:
        joined = "\x00".join(filter(None, values))  # every truthy value must be a str here
        hit = trigger.search(joined)
    except (TypeError, UnicodeEncodeError):  # non-strings among them, or a lone surrogate: the slow path
        hit = True
    if hit is None:
        return values if isinstance(values, list) else list(values)
    out = list(values)
    indexes = [i for i, v in enumerate(out) if type(v) is str and v]
    parts = [out[i] for i in indexes]
    joined = "\x00".join(parts)
    try:
        hits = [(m.start(), m.end()) for m in trigger.finditer(joined)]
    except UnicodeEncodeError:
        for i in indexes:
            out[i] = _valid_utf8(out[i])
        parts = [out[i] for i in indexes]
        joined = "\x00".join(parts)
        hits = [(m.start(), m.end()) for m in trigger.finditer(joined)]
    if not hits:
        return out
    starts = part_starts(parts)
    flagged: set[int] = set()
    for start, end in hits:
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, max(start, end - 1)) - 1
        flagged.update(range(first, last + 1))
    for k in flagged:
        i = indexes[k]
        out[i] = _redact_precisely(out[i], env_values)
    return out


def part_starts(parts: Sequence[str]) -> list[int]:
    """Where each of ``parts`` starts in ``"\x00".join(parts)`` (bisect a hit's offset into them)."""
    starts, position = [], 0
    for part in parts:
        starts.append(position)
        position += len(part) + 1
    return starts


#: a flagged string longer than this is redacted only around the trigger's hits (Python's re runs
#: at ~2 MB/s over these rules: 100 ms for a 240 kB payload, 2 ms with windows)
_WHOLE_TEXT_CHARS = 8_192
# A window reaches back over a name (≤ 80 characters and its quotes) and forward over a value
# (≤ 4,096) or a PEM private key (≤ ~3,300 for RSA-4096).
_BEFORE, _AFTER = 128, 4_400


def _redact_precisely(text: str, env_values: Iterable[str]) -> str:
    for value in env_values:
        if value in text:
            text = text.replace(value, REDACTED)
    if len(text) <= _WHOLE_TEXT_CHARS:
        return _apply_rules(text)
    trigger, _ = _redactor.current()
    windows: list[list[int]] = []
    for match in trigger.finditer(text):
        start, end = max(0, match.start() - _BEFORE), min(len(text), match.end() + _AFTER)
        if windows and start <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], end)
        else:
            windows.append([start, end])
    pieces, position = [], 0
    for start, end in windows:
        pieces += [text[position:start], _apply_rules(text[start:end])]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _apply_rules(text: str) -> str:
    text = _SHAPES.sub(REDACTED, text)
    text = _SCHEME_CREDENTIAL.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    text = _QUOTED_ASSIGNMENT.sub(_quoted, text)
    text = _UNQUOTED_ASSIGNMENT.sub(_unquoted, text)
    return _HEADER_LINE.sub(_header_line, text)


def _quoted(m: re.Match[str]) -> str:
    if m["value"] == REDACTED or not is_secret_name(m["name"]):
        return m.group(0)
    return m["name"] + m["q1"] + m["op"] + m["prefix"] + m["q2"] + REDACTED + m["q2"]


def _unquoted(m: re.Match[str]) -> str:
    query = m["lead"] in ("?", "&", ";")
    if m["value"].startswith(REDACTED) or not is_secret_name(m["name"], query=query):
        return m.group(0)
    return m["lead"] + m["name"] + "=" + REDACTED


def _header_line(m: re.Match[str]) -> str:
    if m["value"].startswith(REDACTED) or not is_secret_name(m["name"]):
        return m.group(0)
    return m["lead"] + m["name"] + m["op"] + REDACTED


_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_utf8(text: str) -> str:
    """Each lone surrogate (which neither RE2 nor DuckDB accept) becomes one U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def redact_mapping(values: Any, *, query: bool = False, _depth: int = 0) -> Any:
    """A copy of headers / query / body parameters with secret-named values replaced, at any depth.

    ``query=True`` also treats URL-only names (``code``, ``sig``) as secrets. Strings elsewhere
    are redacted by shape.
    """
    if _depth > 32:
        return REDACTED  # deeper than any real request: don't walk it, don't keep it either
    if isinstance(values, dict):
        return {key: REDACTED if is_secret_name(str(key), query=query)
                else redact_mapping(value, query=query, _depth=_depth + 1) for key, value in values.items()}
    if isinstance(values, (list, tuple)):
        return [redact_mapping(value, query=query, _depth=_depth + 1) for value in values]
    if isinstance(values, str):
        return redact_text(values)
    return values
