"""Alerts to a webhook: Slack's incoming-webhook JSON, POSTed with a timeout and one retry.

A webhook URL is a secret (Slack's carries the token in its path), so it lives only in the
``Webhook`` object: its repr, the incident's delivery record and every message name the host
alone, and an error's text is scrubbed of the URL before anyone sees it. Sent with ``httpx2``
(a core dependency, the gateway's client): per-phase timeouts, TLS checked against certifi's
roots, and the proxy settings of the environment, where urllib would need each by hand.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._errors import LlmopsError
from .._redact import redact_text

if TYPE_CHECKING:
    from ._alerts import AlertEvent

#: the pause before the one retry (jittered up to twice this): a moment for a restarting receiver
RETRY_AFTER_S = 0.5
_ICONS = {"fired": ":rotating_light:", "resolved": ":white_check_mark:"}


class DeliveryError(LlmopsError):
    """A delivery that failed; its text is safe to log and store (no URL, no header)."""


class Webhook:
    """An HTTP endpoint that takes Slack-compatible alert JSON (Slack, Mattermost, Teams' Slack format…).

    ``timeout``: seconds per attempt (connect, send, wait for each byte); a failed attempt (no
    answer, HTTP 429 or 5xx) is retried once after about half a second. ``headers``: sent as given
    (an ``Authorization`` for a receiver that wants one); never stored or shown.

    >>> Webhook("https://hooks.slack.com/services/T000/B000/XXXX")
    Webhook(host='hooks.slack.com', timeout=5)
    """

    __slots__ = ("_headers", "_url", "host", "timeout")

    def __init__(self, url: str, timeout: float = 5, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("A webhook URL starts with https:// (or http://) and names a host, e.g. "
                             "Webhook('https://hooks.slack.com/services/...').")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 120:
            raise ValueError(f"Webhook timeout is in seconds, above 0 and at most 120; got {timeout!r}.")
        if headers is not None and not (isinstance(headers, dict) and
                                        all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
            raise TypeError("Webhook headers is a dict of header names to string values, e.g. "
                            "{'Authorization': 'Bearer ...'}.")
        self._url = url
        self._headers = dict(headers or {})
        self.host: str = parts.hostname
        self.timeout = float(timeout)

    @property
    def label(self) -> str:
        """How deliveries and logs name this channel: its host only."""
        return f"webhook:{self.host}"

    @property
    def longest_s(self) -> float:
        """The most one delivery can take: two attempts and the pause between them."""
        return 2 * self.timeout + 2 * RETRY_AFTER_S

    def __repr__(self) -> str:
        return f"Webhook(host={self.host!r}, timeout={self.timeout:g})"

    def send(self, event: AlertEvent) -> None:
        """POST the event's Slack JSON; a ``DeliveryError`` (its text safe to keep) when it did not arrive."""
        import httpx2

        payload = slack_payload(event)
        with httpx2.Client(timeout=httpx2.Timeout(self.timeout), follow_redirects=False) as client:
            for attempt in (1, 2):
                try:
                    response = client.post(self._url, json=payload, headers=self._headers)
                except httpx2.HTTPError as exc:  # no answer: connect, send or read failed or timed out
                    failure, again = self._scrub(f"{type(exc).__name__}: {exc}"), True
                except Exception as exc:  # noqa: BLE001 - anything else (a URL httpx2 refuses): said without the URL
                    raise DeliveryError(self._scrub(f"{type(exc).__name__}: {exc}")) from None
                else:
                    if response.status_code < 300:
                        return
                    again = response.status_code == 429 or response.status_code >= 500
                    failure = self._scrub(f"HTTP {response.status_code} from {self.host}: {response.text[:200]}")
                if not again or attempt == 2:
                    raise DeliveryError(failure + (" (after one retry)" if attempt == 2 else ""))
                time.sleep(RETRY_AFTER_S * (1 + random.random()))

    def _scrub(self, text: str) -> str:
        parts = urlsplit(self._url)
        for secret in (self._url, parts.path, parts.query, *self._headers.values()):
            if secret and len(secret) > 1:
                text = text.replace(secret, "…")
        return redact_text(text).strip()


def slack_payload(event: AlertEvent) -> dict[str, Any]:
    """Slack's incoming-webhook JSON: ``text`` for notifications, one section block of mrkdwn for the channel."""
    state = "FIRING" if event.state == "fired" else "RESOLVED"
    title = f"{state} [{event.severity}] {event.rule}"
    body = (f"{_ICONS.get(event.state, '')} *{_mrkdwn(title)}*\n{_mrkdwn(event.message)}\n"
            f"_incident {event.incident_id} at {event.at:%Y-%m-%d %H:%M:%S} UTC_")
    return {"text": _mrkdwn(f"{title}: {event.message}"),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]}


def _mrkdwn(text: str) -> str:
    """Text that Slack shows as typed: its three control characters escaped, so a group value from a trace
    cannot ping ``<!channel>`` or hide a link as ``<https://evil|docs>``; ``*_~` `` stay, harmless."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
