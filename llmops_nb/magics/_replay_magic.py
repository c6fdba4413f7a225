"""``%llm_replay MODE [--recording NAME] [--file PATH] | status | export PATH``: record and replay from a cell."""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

_USAGE = ("%llm_replay takes a mode (record, replay, strict, fallthrough, off) with optional --recording NAME and "
          "--file PATH, or 'status', or 'export PATH'")


@magics_class
class ReplayMagics(Magics):
    @line_magic
    def llm_replay(self, line: str) -> Any:
        """Record LLM calls, or answer them from a recording (``llmops_nb.replay``).

        %llm_replay record                      store every LLM call with its response
        %llm_replay replay --file nb.llmops     answer from a file; an unrecorded call is an error
        %llm_replay fallthrough                 answer what was recorded, send and record the rest
        %llm_replay off | status | export nb.llmops
        """
        from .. import replay

        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"{_USAGE}; {exc}.") from None
        if not words or words[0] == "status":
            return replay.status()
        if words[0] == "export":
            if len(words) != 2:
                raise UsageError("%llm_replay export takes one path, e.g. %llm_replay export quickstart.llmops")
            path = replay.export(words[1])
            print(f"llmops_nb: recording written to {path}")
            return None
        mode, options = words[0], dict.fromkeys(("--recording", "--file"))
        rest = words[1:]
        while rest:
            flag = rest.pop(0)
            if flag not in options or not rest:
                raise UsageError(f"{_USAGE}; got {flag!r}.")
            options[flag] = rest.pop(0)
        try:
            replay.start(mode, recording=options["--recording"], file=options["--file"])
        except (ValueError, TypeError) as exc:
            raise UsageError(str(exc)) from None
        info = replay.status()
        if info["mode"] == "off":
            print("llmops_nb: record and replay off")
        elif info["mode"] == "record":
            print(f"llmops_nb: recording LLM calls into {info['recording']!r} (export with %llm_replay export PATH)")
        else:
            print(f"llmops_nb: {info['mode']} replay of {info['recorded_calls_available']} recorded calls from "
                  f"{info['source']} (recording {info['recording']!r})")
        return None
