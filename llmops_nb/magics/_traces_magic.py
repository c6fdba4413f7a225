"""``%llm_traces``: the store's traces as a browsable list under the cell.

The options are the list's filters; the list's own inputs change them afterwards.
Every mistake is a ``UsageError`` that says what to write instead.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand

from ._args import MagicParser, parse_tags

_EXAMPLE = "%llm_traces --status ERROR --tag env=dev --since 2026-11-01"


def _parser() -> MagicParser:
    parser = MagicParser("%llm_traces", _EXAMPLE)
    parser.add_argument("--name", help="trace name; * and ? are wildcards")
    parser.add_argument("--tag", action="append", metavar="KEY=VALUE", help="repeat for several (all must match)")
    parser.add_argument("--status", help="OK, ERROR or IN_PROGRESS")
    parser.add_argument("--model", help="traces with a span of this model; * and ? are wildcards")
    parser.add_argument("--session", help="the %%llm_trace --session id")
    parser.add_argument("--eval-run", metavar="RUN", help="the traces of one evaluation run: its run id or name")
    parser.add_argument("--evals", action="store_true", help="list evaluation traces too (hidden by default)")
    parser.add_argument("--since", metavar="ISO", help="started at or after, e.g. 2026-11-26 or 2026-11-26T14:00")
    parser.add_argument("--until", metavar="ISO", help="started before")
    parser.add_argument("--text", help="text in names, inputs, outputs or errors (case-insensitive)")
    return parser


@magics_class
class TracesMagics(Magics):
    @no_var_expand
    @line_magic
    def llm_traces(self, line: str) -> Any:
        """Browse the store's traces: filter, sort, scroll, click one to explore it.

        %llm_traces [--name N] [--tag K=V ...] [--status S] [--model M] [--session ID]
                    [--eval-run RUN] [--evals] [--since ISO] [--until ISO] [--text T]

        Evaluation traces (one per row of an ``evaluate()`` run) are hidden unless ``--evals`` or
        ``--eval-run`` asks for them; the list's toggle shows them too.
        """
        opts = _parser().parse_line(line)
        filters = {key: getattr(opts, key) for key in ("name", "status", "model", "session", "since", "until", "text")}
        filters["tags"] = parse_tags(opts.tag, "%llm_traces")
        filters["eval_run"] = opts.eval_run
        filters["evals"] = opts.evals
        from ..widgets.trace_list._widget import trace_list

        try:
            return trace_list(**filters)
        except ValueError as exc:
            raise UsageError(f"%llm_traces: {exc}\nExample: {_EXAMPLE}") from None
