"""The offline model's server process: ``python -m llmops_nb.local_model [--port N]``.

Started by :class:`llmops_nb.local_model.LocalServer`, never by hand: it reads the API key from the
environment (never argv, which every user of the machine can read in /proc), loads SmolLM2, binds
127.0.0.1, then writes one JSON line on its original stdout, ``{"port": N}`` (or ``{"error": ...}``
when a piece is missing), and serves until its stdin reaches end-of-file, which happens when the
process that started it exits for any reason, SIGKILL included.

Everything else it prints, and anything llama.cpp writes, goes to stderr: the supervisor keeps that
in a log file and quotes its tail when this process dies.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import shutil
import sys
import threading
import time

from ._install import LocalModelError, check_installed, load_llama
from ._serve import KEY_ENV, LOG_DIR_ENV, make_server

EXIT_NOT_INSTALLED = 3


def _exit_with_parent(log_dir: str) -> None:
    # The supervisor holds the write end of our stdin and never writes: end-of-file means it is
    # gone, however it died. os._exit: a request may be generating, and nobody is left to answer.
    # os.read on the raw descriptor: a thread blocked in sys.stdin's buffered reader makes any normal
    # interpreter exit abort ("could not acquire lock for <stdin> at interpreter shutdown").
    while os.read(0, 4096):
        pass
    if log_dir:  # a SIGKILLed kernel (Jupyter's restart, a runner's shutdown) could not remove it
        shutil.rmtree(log_dir, ignore_errors=True)
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    # A native crash (SIGILL, SIGSEGV) then leaves a Python traceback in the log before the process
    # dies of the same signal, so the supervisor can still name it.
    faulthandler.enable()
    parser = argparse.ArgumentParser(prog="python -m llmops_nb.local_model", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (0: any free port)")
    args = parser.parse_args(argv)
    key = os.environ.pop(KEY_ENV, "")  # popped: nothing this process starts inherits it
    if not key:
        parser.error(f"the API key comes in ${KEY_ENV}; start this through llmops_nb.local_model.local_server()")

    # The port report gets its own copy of stdout; fd 1 then points at stderr, so that whatever
    # llama.cpp prints lands in the log instead of filling a pipe nobody reads any more.
    report = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    log_dir = os.environ.pop(LOG_DIR_ENV, "")
    threading.Thread(target=_exit_with_parent, args=(log_dir,), name="exit-with-parent", daemon=True).start()

    start = time.perf_counter()
    try:
        path = check_installed()
        llama = load_llama(path)
    except LocalModelError as exc:
        report.write(json.dumps({"error": str(exc)}) + "\n")
        report.close()
        return EXIT_NOT_INSTALLED
    try:
        server = make_server(llama, key, args.port)
    except OSError as exc:  # the port asked for (a restart's previous one) was taken meanwhile
        print(f"port {args.port} is not free ({exc}); taking another", file=sys.stderr)
        server = make_server(llama, key, 0)
    port = server.server_address[1]
    print(f"llmops_nb local model: {path.name} loaded in {time.perf_counter() - start:.2f} s, serving on "
          f"127.0.0.1:{port} (pid {os.getpid()})", file=sys.stderr, flush=True)
    report.write(json.dumps({"port": port}) + "\n")
    report.close()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
