"""``%llm_receive [stop|status]``: the kernel's OTLP receiver (``llmops_nb.receive()``) from a cell."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class


@magics_class
class ReceiveMagics(Magics):
    @line_magic
    def llm_receive(self, line: str) -> Any:
        """Start the OTLP/HTTP receiver (subprocesses started afterwards send their traces to it).

        %llm_receive          start it (or show the running one)
        %llm_receive status   what it received and rejected
        %llm_receive stop     stop it and restore the OTEL_EXPORTER_OTLP_TRACES_* variables
        """
        from ..otel import _receiver

        word = line.strip().lower()
        if word in ("", "start"):
            receiver = _receiver.receive()
            print(f"llmops_nb: receiving OTLP traces at {receiver.endpoint} (bearer token in "
                  "OTEL_EXPORTER_OTLP_TRACES_HEADERS; subprocesses started from here send to it)")
            return None
        if word == "status":
            return _receiver.status()
        if word == "stop":
            _receiver.stop_receiving()
            return None
        raise UsageError(f"%llm_receive takes nothing, 'status' or 'stop', not {line.strip()!r}.")
