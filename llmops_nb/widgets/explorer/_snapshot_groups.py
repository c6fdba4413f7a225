"""Repeated siblings grouped in the snapshot, as the live explorer groups them: a loop of 100 traced
``step`` calls is one line, ``step ×100``, with their total time, tokens, cost and failures.

The rule is ``findGroups`` in ``js/explorer/groups.js``; keep the two alike. A group is a run of at
least ``MIN_GROUP`` consecutive siblings with the same shown name (an LLM call's
``model · operation`` label, else the span's name) and the same kind; its totals are its members'
durations summed and their rolled-up tokens and costs summed. The live view opens a group on a
click; a snapshot cannot, so it lists the first ``HEAD`` and the last ``TAIL`` members and every
failed one between (at most ``MAX_FAILED``), each with its subtree, and counts the rest in a
:class:`Gap` line where it left them out.

:func:`grouped_rows` is what the snapshot draws, in order: spans, groups and gaps, each with its nesting.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..._format import cost as cost_text
from ._snapshot_tree import Span, TraceTree
from ._snapshot_values import duration, plural

MIN_GROUP = 3  # groups.js MIN_GROUP
HEAD, TAIL = 3, 2  # members listed at each end: how the loop starts and how it ended
MAX_FAILED = 5  # failed members listed from between the ends: a failure is what a reader looks for


@dataclass
class Group:
    name: str  # the shown name: an LLM call's label, else the span's name
    kind: str
    members: list[Span]
    total_ms: float
    errors: int  # failed members
    tokens: int  # members' tokens, their subtrees' included
    cost: float | None

    @property
    def critical(self) -> bool:
        """Whether the trace's critical path runs through one of the members."""
        return any(m.critical for m in self.members)


@dataclass
class Gap:
    """Members of a group left out of the snapshot, between two listed ones."""

    group: Group
    first: int  # the first and last left-out member, counted from 1
    last: int
    spans: int  # the members and every span under them

    @property
    def members(self) -> int:
        return self.last - self.first + 1


Item = Span | Group | Gap


@dataclass
class Row:
    item: Item
    depth: int  # depth in the trace; a group's and a gap's are their members'
    level: int  # nesting in the snapshot: the depth plus one for each group around it
    ordinal: int | None = None  # a listed member's place in its group, from 1: which iteration of the loop


def shown_name(s: Span) -> str:
    return s.call.label if s.call and s.call.label else s.name


def group_facts(g: Group) -> list[str]:
    """What a group's line says after ``step ×100``: ``total 1.23 s · 2 failed · 1,234 tokens · $0.01``."""
    facts = [f"total {duration(g.total_ms)}"]
    if g.errors:
        facts.append(f"{g.errors:,} failed")
    if g.tokens:
        facts.append(plural(g.tokens, "token"))
    if g.cost is not None:
        facts.append(cost_text(g.cost))
    return facts


def gap_text(gap: Gap) -> str:
    """``… 95 more step spans not shown (#4 to #98, and 190 spans inside them)``."""
    inside = gap.spans - gap.members
    where = f"#{gap.first:,}" if gap.first == gap.last else f"#{gap.first:,} to #{gap.last:,}"
    more = f", and {plural(inside, 'span')} inside them" if inside else ""
    name = " ".join((gap.group.name or "(unnamed)").split())  # one line, in the text tree too
    return f"… {gap.members:,} more {name} spans not shown ({where}{more})"


def grouped_rows(trace: TraceTree) -> list[Row]:
    """Every span of the tree in preorder, runs of repeated siblings replaced by their group, its
    listed members and its gaps."""
    sizes = _subtree_sizes(trace)
    roots = [s for s, depth in trace.order if depth == 0]
    out: list[Row] = []
    stack: list[Row] = [Row(item, 0, 0) for item in reversed(_units(roots))]
    seen: set[str] = set()
    while stack:  # iterative, as _snapshot_tree's walk: a 20k-deep chain must not hit the recursion limit
        row = stack.pop()
        item = row.item
        if isinstance(item, Span):
            if item.span_id in seen:
                continue
            seen.add(item.span_id)
            out.append(row)
            stack.extend(Row(u, row.depth + 1, row.level + 1) for u in reversed(_units(item.children)))
        elif isinstance(item, Group):
            out.append(row)
            stack.extend(Row(u, row.depth, row.level + 1, n) for u, n in reversed(_listed(item, sizes)))
        else:
            out.append(row)
    return out


def _units(siblings: list[Span]) -> list[Span | Group]:
    units: list[Span | Group] = []
    k = 0
    while k < len(siblings):
        end = k + 1
        name, kind = shown_name(siblings[k]), siblings[k].kind
        while end < len(siblings) and shown_name(siblings[end]) == name and siblings[end].kind == kind:
            end += 1
        if end - k >= MIN_GROUP:
            units.append(_group(siblings[k:end]))
        else:
            units.extend(siblings[k:end])
        k = end
    return units


def _group(members: list[Span]) -> Group:
    cost: float | None = None
    for m in members:
        if m.sub_cost is not None:
            cost = (cost or 0.0) + m.sub_cost
    return Group(name=shown_name(members[0]), kind=members[0].kind, members=members,
                 total_ms=sum(max(0, m.end_ns - m.start_ns) for m in members) / 1e6,
                 errors=sum(m.status == "ERROR" for m in members), tokens=sum(m.sub_tokens for m in members),
                 cost=cost)


def _listed(group: Group, sizes: dict[str, int]) -> list[tuple[Span | Gap, int | None]]:
    """The members the snapshot lists, each with its place from 1, and a gap wherever it skipped some."""
    members = group.members
    keep = set(range(HEAD)) | set(range(len(members) - TAIL, len(members)))
    failed = [i for i, m in enumerate(members) if m.status == "ERROR" and i not in keep]
    keep.update(failed[:MAX_FAILED])
    out: list[tuple[Span | Gap, int | None]] = []
    skipped: list[int] = []
    for i, m in enumerate(members):
        if i not in keep:
            skipped.append(i)
            continue
        if skipped:
            spans = sum(sizes.get(members[k].span_id, 1) for k in skipped)
            out.append((Gap(group, skipped[0] + 1, skipped[-1] + 1, spans), None))
            skipped = []
        out.append((m, i + 1))
    if skipped:  # only if TAIL were 0: the loop's end left out too
        spans = sum(sizes.get(members[k].span_id, 1) for k in skipped)
        out.append((Gap(group, skipped[0] + 1, skipped[-1] + 1, spans), None))
    return out


def _subtree_sizes(trace: TraceTree) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for s, _ in reversed(trace.order):  # children before parents
        sizes[s.span_id] = 1 + sum(sizes.get(c.span_id, 0) for c in s.children)
    return sizes
