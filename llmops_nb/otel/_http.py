"""POST one OTLP request, with the retries OTLP asks for: 429/502/503/504 and connection errors, with backoff.

Standard library only (``http.client``): the exporter must not depend on a backend's client, and
one request at a time from a background thread needs no more. ``Retry-After`` is honoured up to
``MAX_WAIT_S``. Other 4xx answers are final (retrying cannot fix the request) and are raised with
the server's own message.
"""

from __future__ import annotations

import gzip
import http.client
import os
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from .._redact import redact_text

RETRY_STATUS = frozenset({429, 502, 503, 504})
MAX_WAIT_S = 30.0


class ExportError(RuntimeError):
    """The backend refused the spans, or stayed unreachable through every retry."""


def resolve_endpoint(endpoint: str | None) -> str:
    """The full ``/v1/traces`` URL: the argument, else the OTel environment variables."""
    if endpoint is None:
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        if endpoint is None and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            endpoint = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
    if not endpoint:
        raise ValueError("No OTLP endpoint: pass endpoint='http://host:4318/v1/traces' (MLflow: "
                         "'http://127.0.0.1:5000/v1/traces'; Phoenix: 'http://127.0.0.1:6006/v1/traces') "
                         "or set OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"The OTLP endpoint must be an http(s) URL, got {endpoint!r}.")
    if parts.path in ("", "/"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    return endpoint


def resolve_headers(headers: dict[str, str] | str | None) -> dict[str, str]:
    """Headers as a dict: the argument (dict or ``"k=v,k2=v2"``), else ``OTEL_EXPORTER_OTLP_*_HEADERS``."""
    if headers is None:
        headers = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS") or os.environ.get("OTEL_EXPORTER_OTLP_HEADERS")
    if not headers:
        return {}
    if isinstance(headers, dict):
        return {str(k): str(v) for k, v in headers.items()}
    out = {}
    for item in str(headers).split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            out[unquote(key.strip())] = unquote(value.strip())
    return out


def post(endpoint: str, body: bytes, headers: dict[str, str], *, timeout: float = 10.0, retries: int = 5,
         compress: bool = True, deadline: float | None = None) -> None:
    """Send one export request; returns when the backend took it, raises :class:`ExportError` otherwise."""
    parts = urlsplit(endpoint)
    payload = gzip.compress(body, compresslevel=1) if compress else body
    send_headers = {"Content-Type": "application/x-protobuf", **headers}
    if compress:
        send_headers["Content-Encoding"] = "gzip"
    wait = 0.5
    last = "no attempt"
    for attempt in range(retries + 1):
        retry_after: float | None = None
        try:
            connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            connection = connection_class(parts.hostname, parts.port, timeout=timeout)
            try:
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                connection.request("POST", path, body=payload, headers=send_headers)
                response = connection.getresponse()
                text = response.read(2000).decode("utf-8", "replace")
                status = response.status
                retry_after = _seconds(response.getheader("Retry-After"))
            finally:
                connection.close()
        except (OSError, http.client.HTTPException) as exc:
            status, text = 0, f"{type(exc).__name__}: {exc}"
        if 200 <= status < 300:
            return
        last = f"HTTP {status}: {text.strip()[:500]}" if status else text
        if status and status not in RETRY_STATUS:
            raise ExportError(f"{endpoint} refused the spans ({redact_text(last)}).")
        if attempt == retries:
            break
        delay = min(MAX_WAIT_S, retry_after if retry_after is not None else wait)
        if deadline is not None and time.monotonic() + delay > deadline:
            break
        time.sleep(delay)
        wait = min(wait * 2, MAX_WAIT_S)
    raise ExportError(f"{endpoint} did not take the spans after {retries + 1} attempts ({redact_text(last)}).")


def _seconds(value: Any) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
