"""``%llm_sessions``: the store's conversations (traces that share a session id) under the cell, or one
session's transcript.

The options pick the turns listed, as ``llmops_nb.agents.sessions()`` does; the view's own inputs change
them afterwards. Every mistake is a ``UsageError`` that says what to write instead.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand

from ._args import MagicParser

_EXAMPLE = "%llm_sessions --since 2026-12-01 --name chat   (or: %llm_sessions conv-42)"


def _parser() -> MagicParser:
    parser = MagicParser("%llm_sessions", _EXAMPLE)
    parser.add_argument("session", nargs="?", metavar="SESSION_ID", help="open this session's transcript")
    parser.add_argument("--since", metavar="ISO", help="turns started at or after, e.g. 2026-12-01 or 2026-12-01T14:00")
    parser.add_argument("--until", metavar="ISO", help="turns started before")
    parser.add_argument("--name", help="the turns' trace name; * and ? are wildcards")
    parser.add_argument("--limit", metavar="N", help="list the newest N sessions only")
    return parser


def _limit(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"%llm_sessions: --limit is how many sessions to list, a positive whole number, e.g. "
                         f"--limit 50; got {text!r}.")
    return int(text)


@magics_class
class SessionsMagics(Magics):
    @no_var_expand
    @line_magic
    def llm_sessions(self, line: str) -> Any:
        """Browse the store's conversations: pick a session to read it turn by turn, open a turn's trace.

        %llm_sessions [SESSION_ID] [--since ISO] [--until ISO] [--name N] [--limit N]

        A session is every trace with the same session id (``@trace(session=...)``, ``span(session=...)``,
        ``%%llm_trace --session``, or an OpenTelemetry root's ``session.id``).
        """
        opts = _parser().parse_line(line)
        from ..widgets.sessions._query import normalize_filters
        from ..widgets.sessions._widget import sessions_view

        try:
            filters = normalize_filters({"since": opts.since, "until": opts.until, "name": opts.name,
                                         "limit": _limit(opts.limit)})
        except ValueError as exc:
            raise UsageError(f"%llm_sessions: {exc}\nExample: {_EXAMPLE}") from None
        if opts.session is not None:
            _check_session(opts.session)
        return sessions_view(opts.session, **filters)


def _check_session(session_id: str) -> None:
    from ..agents import session

    try:
        session(session_id)
    except LookupError:
        raise UsageError(f"%llm_sessions: no session named {session_id!r} in the store; %llm_sessions lists them "
                         "(a session id is what @trace(session=...), span(session=...) or %%llm_trace --session "
                         "recorded).") from None
