"""The sessions view as script-free HTML and text: what a shared notebook shows of ``%llm_sessions``.

With no session selected, a plain table of the first ``SNAPSHOT_ROWS`` sessions with the filters stated
in words; with one selected, its transcript: the first ``SNAPSHOT_TURNS`` turns, each a line of facts
and the user's and the assistant's words as preformatted text (capped at ``TEXT_CHARS``). Every string
goes through ``llmops_nb._html``; nothing here raises for the store's sake: an error becomes the message.
"""

from __future__ import annotations

from typing import Any

from ..._format import cost, duration
from ..._html import Markup, table, tag
from ._query import describe_filters, normalize_filters, page, read_turns

SNAPSHOT_ROWS = 50
SNAPSHOT_TURNS = 50
TEXT_CHARS = 2000  # of one turn's words in the transcript
PREVIEW_CHARS = 80  # of the first message in a table cell
_HEADERS = ("Last turn (UTC)", "First turn (UTC)", "Session", "First message", "Turns", "Duration", "Tokens",
            "Cost", "Errors", "Scores")
_RED = "#cf222e"
_GREEN = "#1a7f37"
# decoration only (GitHub strips styles): the user's words set in from the left, the assistant's from the
# right, as in the live view; borders, not backgrounds, so the text reads on a light and a dark theme alike
_PRE = "white-space:pre-wrap;margin:0;padding:4px 8px;border-radius:6px"
_USER = f"{_PRE};margin-left:15%;border:1px solid #54aeff"
_ASSISTANT = f"{_PRE};margin-right:15%;border:1px solid #8c959f"


def snapshot(filters: dict[str, Any], session: str | None = None) -> dict[str, str]:
    """``text/html`` and ``text/plain`` of the view: the sessions table, or ``session``'s transcript.
    Bad filters raise ``ValueError``; a store error becomes the message."""
    if session:
        return transcript_snapshot(session)
    return list_snapshot(filters)


def list_snapshot(filters: dict[str, Any], rows: int = SNAPSHOT_ROWS) -> dict[str, str]:
    filters = normalize_filters(filters)
    stated = describe_filters(filters)
    try:
        data = page(filters=filters, limit=rows)
    except Exception as exc:  # noqa: BLE001 - a display must not fail the cell
        message = f"Sessions ({stated}) could not be read: {type(exc).__name__}: {exc}"
        return {"text/plain": message, "text/html": str(tag("p", message))}
    shown = data["rows"]
    count = f"{len(shown):,}" if data["exact"] else f"More than {len(shown):,}"
    head = (f"{count} session{'s' if len(shown) != 1 or not data['exact'] else ''} in the llmops_nb store "
            f"({stated}), newest activity first.")
    more = "" if data["exact"] else f" The first {len(shown)} are listed; run the notebook to browse them all."
    listing = table(_HEADERS, (_cells(r) for r in shown)) if shown else Markup("")
    html_text = tag("div", Markup("\n"), tag("p", head + more), Markup("\n"), listing, Markup("\n"),
                    class_="llmops-nb-sessions")
    lines = [f"SessionsView: {head}"]
    for r in shown[:10]:
        c = _cells(r)
        lines.append(f"  {c[0][:19]:<19}  {_clip(c[2], 28):<28}  {c[4]:>5} turns  {_clip(c[3], 40)}")
    if len(shown) > 10 or not data["exact"]:
        lines.append(f"  … {'more' if not data['exact'] else f'{len(shown) - 10:,} more'}")
    return {"text/plain": "\n".join(lines), "text/html": str(html_text)}


def transcript_snapshot(session: str, turns: int = SNAPSHOT_TURNS) -> dict[str, str]:
    try:
        rows = read_turns(session)
    except Exception as exc:  # noqa: BLE001 - a display must not fail the cell
        message = f"Session {session!r} could not be read: {type(exc).__name__}: {exc}"
        return {"text/plain": message, "text/html": str(tag("p", message))}
    shown = rows[:turns]
    errors = sum(1 for r in rows if r["status"] == "ERROR")
    facts = [f"{len(rows):,} turn{'s' if len(rows) != 1 else ''}"]
    if rows:
        facts.append(f"{_time(rows[0]['start_time'])} to {_time(rows[-1]['start_time'])} UTC")
    if errors:
        facts.append(f"{errors:,} error{'s' if errors != 1 else ''}")
    head = f"Session {session}: {', '.join(facts)}."
    more = (f" The first {len(shown)} turns are shown; run the notebook to read them all." if len(rows) > len(shown)
            else "")
    parts = [Markup("\n"), tag("p", tag("strong", f"Session {session}"), f": {', '.join(facts)}.{more}"),
             Markup("\n")]
    parts += [_turn_html(r) for r in shown]
    html_text = tag("div", *parts, class_="llmops-nb-session")
    lines = [f"SessionsView: {head}"]
    for r in shown[:10]:
        lines.append(f"  [{r['turn']}] user: {_clip(r['user'], 70)}")
        lines.append(f"      assistant: {_clip(r['assistant'] or _error_text(r), 64)}")
    if len(rows) > 10:
        lines.append(f"  … {len(rows) - 10:,} more turns")
    return {"text/plain": "\n".join(lines), "text/html": str(html_text)}


def _turn_html(row: dict[str, Any]) -> Markup:
    status = row["status"]
    colour = _RED if status == "ERROR" else _GREEN if status == "OK" else None
    facts = " · ".join(_turn_facts(row))
    line = tag("p", tag("strong", f"Turn {row['turn']}"), f" · {facts} · ",
               tag("strong", status, style=f"color:{colour}" if colour else None),
               f" · trace {row['trace_id']}", style="margin:10px 0 2px 0")
    parts = [line, Markup("\n")]
    if row["user"]:
        parts += [_words("User", row["user"], row["user_chars"], _USER), Markup("\n")]
    if row["assistant"]:
        parts += [_words("Assistant", row["assistant"], row["assistant_chars"], _ASSISTANT), Markup("\n")]
    if row["error"]:
        parts += [tag("p", tag("strong", "Error: ", style=f"color:{_RED}"), _cap(row["error"], TEXT_CHARS),
                      style="margin:2px 0;white-space:pre-wrap"), Markup("\n")]
    return tag("div", *parts, class_=f"llmops-nb-turn llmops-nb-turn-{'error' if status == 'ERROR' else 'ok'}")


def _words(who: str, text: str, chars: int, style: str) -> Markup:
    cut = _cap(text, TEXT_CHARS)
    if chars > len(text) and not cut.endswith("…"):
        cut += "…"
    label = tag("div", tag("small", tag("strong", who)), style="margin-left:15%" if who == "User" else None)
    return Markup("").join([label, tag("pre", cut, style=style)])


def _turn_facts(row: dict[str, Any]) -> list[str]:
    facts = [f"{_time(row['start_time'])} UTC", duration(row["duration_ms"])]
    if row["tokens"]:
        facts.append(f"{row['tokens']:,} tokens")
    if row["cost_usd"] is not None:
        facts.append(cost(row["cost_usd"]))
    return facts


def _cells(row: dict[str, Any]) -> list[str]:
    def number(v: Any) -> str:
        return "" if v is None else f"{v:,}"

    return [
        _time(row["last_at"]),
        _time(row["first_at"]),
        row["session"],
        _clip(row["first_input"], PREVIEW_CHARS),
        number(row["turns"]),
        duration(None if row["duration_s"] is None else row["duration_s"] * 1000),
        number(row["tokens"]),
        cost(row["cost_usd"]),
        number(row["errors"]),
        ", ".join(_score(s) for s in row["scores"]),
    ]


def _score(score: dict[str, Any]) -> str:
    """``helpful 50% pass`` (a pass rate), else ``stars 4.00`` (a mean)."""
    if score["pass_rate"] is not None:
        return f"{score['name']} {score['pass_rate'] * 100:.0f}% pass"
    return f"{score['name']} {score['mean']:.2f}"


def _error_text(row: dict[str, Any]) -> str:
    return f"(error: {row['error']})" if row["error"] else ""


def _time(iso_text: str | None) -> str:
    return (iso_text or "")[:19].replace("T", " ")


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(text: str, width: int) -> str:
    return _cap(" ".join(text.split()), width)


class SessionsSnapshot:
    """What ``sessions_view()`` returns where no widget can show (a terminal, a missing JS bundle):
    the same table or transcript as static HTML and text."""

    def __init__(self, filters: dict[str, Any], session: str | None = None) -> None:
        self.filters = normalize_filters(filters)
        self.session = session

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return snapshot(self.filters, self.session)

    def __repr__(self) -> str:
        return snapshot(self.filters, self.session)["text/plain"]

