"""A contender's process: ``python -m benchmarks._worker MODULE CONTENDER WORKDIR``.

Imports ``benchmarks.MODULE`` and builds ``CONTENDERS[CONTENDER](workdir)``; then
answers JSON requests ``{"op", "args"}`` read from stdin, one per line, by calling
that method. Library output (MLflow logs, warnings) goes to stderr, which the
driver keeps in a log file, so it cannot corrupt the answers on stdout.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from pathlib import Path


def main() -> None:
    module, contender, workdir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        target = importlib.import_module(f"benchmarks.{module}").CONTENDERS[contender](workdir)
    except Exception:
        answers.write(json.dumps({"error": traceback.format_exc()}) + "\n")
        return
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = getattr(target, request["op"])(**request["args"])
        except Exception:
            answer = {"error": traceback.format_exc()}
        answers.write(json.dumps(answer) + "\n")
    close = getattr(target, "close", None)
    if close is not None:
        close()


if __name__ == "__main__":
    main()
