"""``SessionsView``: conversations that span traces — a list of sessions, a session's transcript, and the
trace of any turn in the explorer, in one widget.

The view (``js/sessions/``, bundled to ``llmops_nb/static/sessions.js``) asks the kernel through ``_rpc``::

    page {filters, offset, limit, as_of?}   -> {rows, total, exact, offset, limit, filters, as_of, elapsed_ms}
    turns {session, offset, limit, as_of?}  -> {session, rows, total, offset, limit, as_of}
    snapshot {filters, session}             -> {"text/html", "text/plain"} (the saved output, after a pick)

(``_query``), and the explorer's methods (``skeleton``, ``span``, ``search``) for the turn whose trace
it opens. Traitlets hold the view state only: the filters, the selected ``session``, the open trace
and its explorer state, the height; rows and turns are never synced.

>>> from llmops_nb.widgets import sessions_view
>>> sessions_view(since="2026-12-01")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import traitlets

from ..._html import tag
from .._base import View, bundle_available, check_height, check_options, esm_path, in_kernel
from .._rpc import Methods
from ..explorer._widget import explorer_methods
from ._query import normalize_filters, page, turns
from ._snapshot import SessionsSnapshot, snapshot


def _snapshot(*, filters: dict[str, Any] | None = None, session: str | None = None) -> dict[str, str]:
    return snapshot(normalize_filters(filters), session or None)


#: What a transcript asks (js/sessions/transcript.js): another view that shows one embeds these.
transcript_methods = Methods({"turns": turns})
#: What the sessions view asks: its pages, the transcript's turns, the saved snapshot, and the explorer's methods.
sessions_methods = explorer_methods.extend(transcript_methods).extend(Methods({"page": page, "snapshot": _snapshot}))

_EXPLORER_STATE = {"trace_id", "selected_span_id", "collapsed_span_ids", "search_text"}
_TAKES = "session, since, until, name, limit, height, trace_id, selected_span_id, collapsed_span_ids, search_text"

BUNDLE = "sessions"  # llmops_nb/static/sessions.js and .css, built from js/sessions/


class SessionsView(View, bundle=BUNDLE):
    """The store's sessions, newest activity first: pick one to read its conversation turn by turn, and open
    any turn's trace in the explorer.

    ``session``: open on that session's transcript. ``since``/``until``/``name`` pick the turns listed, as
    in ``llmops_nb.agents.sessions()``; ``limit``: list the newest sessions only.

    >>> from llmops_nb.widgets import SessionsView
    >>> SessionsView(since="2026-12-01")  # doctest: +SKIP
    >>> SessionsView("conv-42")  # doctest: +SKIP
    """

    filters = traitlets.Dict().tag(sync=True)
    session = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    height = traitlets.Int(560).tag(sync=True)
    # The turn's trace opened in the explorer (None: the list and the transcript show), and that
    # explorer's state under the names TraceExplorer uses, so the view hands this model to it as is.
    trace_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    selected_span_id = traitlets.Unicode(None, allow_none=True).tag(sync=True)
    collapsed_span_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    search_text = traitlets.Unicode("").tag(sync=True)

    def __init__(self, session: str | None = None, *, since: Any = None, until: Any = None, name: str | None = None,
                 limit: int | None = None, height: int = 560, **kwargs: Any) -> None:
        check_options("SessionsView", kwargs, _EXPLORER_STATE, _TAKES)
        filters = normalize_filters({"since": since, "until": until, "name": name, "limit": limit})
        super().__init__(filters=filters, session=check_session(session), height=check_height(height, 240),
                         **kwargs)

    def methods(self) -> Methods:
        return sessions_methods

    def snapshot(self) -> dict[str, str]:
        """The script-free ``text/html`` and ``text/plain`` of what the view shows: the sessions table,
        or the selected session's transcript."""
        try:
            return snapshot(dict(self.filters), self.session)
        except ValueError as exc:
            return {"text/plain": f"SessionsView: bad filters ({exc})", "text/html": str(tag("p", str(exc)))}

    def __repr__(self) -> str:
        return f"SessionsView(session={self.session!r}, filters={dict(self.filters)!r})"


def check_session(session: Any) -> str | None:
    if session is None or (isinstance(session, str) and session):
        return session
    raise TypeError(f"session is a session id (text), e.g. llmops_nb.agents.sessions().session[0]; got {session!r}.")


def sessions_view(session: str | None = None, *, since: Any = None, until: Any = None, name: str | None = None,
                  limit: int | None = None, height: int = 560, widget: bool | None = None) -> Any:
    """The store's conversations: a list of sessions, newest activity first, and a session's transcript.

    ``session`` opens on that conversation; ``since``/``until`` (ISO text, a datetime, or a timedelta
    meaning "ago") and ``name`` (a trace name, ``*``/``?`` wildcards) pick the turns, as in
    ``llmops_nb.agents.sessions()``; ``limit`` lists the newest sessions only. ``widget=None`` makes the
    interactive ``SessionsView`` inside a Jupyter kernel and a static table (or transcript) elsewhere.

    >>> from llmops_nb.widgets import sessions_view
    >>> sessions_view(since="2026-12-01", name="chat")  # doctest: +SKIP
    """
    session = check_session(session)
    filters = normalize_filters({"since": since, "until": until, "name": name, "limit": limit})
    want = widget if widget is not None else in_kernel()
    if want:
        if bundle_available(BUNDLE):
            return SessionsView(session, height=height, **filters)
        from ..._safety import log_once

        log_once("widgets.sessions_bundle", message="llmops_nb: the sessions view's JS bundle is missing "
                 f"({esm_path(BUNDLE)}); showing a static page. Build it: cd js && npm ci && npm run build")
    return SessionsSnapshot(filters, session)
