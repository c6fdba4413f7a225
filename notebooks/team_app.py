"""The served app of ``notebooks/team.ipynb``: answers support questions over HTTP with the prompt the team promoted.

    TEAM_APP_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe())') \\
    LLMOPS_NB_DB="ducklake:postgres:dbname=llmops host=localhost user=llmops_writer" \\
    LLMOPS_NB_DATA_PATH=/shared/llmops/ python notebooks/team_app.py --port 8808

A process outside any notebook that writes to the same team store (the lake) as the notebooks:

- It serves the version of the prompt (``--prompt``, default ``support-answer``) that the alias
  ``production`` points at, read again on every request, so a promotion made in a notebook takes
  effect with the next request. A version it has not served yet is smoke-checked first: a two-row
  ``llmops_nb.evaluate()`` run, stored in the lake like any other run; when it passes, the app
  moves the alias ``live`` to that version, so the team sees what is really served. When it fails
  (the version needs a variable the app does not fill, the model returns nothing) the app keeps
  serving ``live``.
- Every answer is a trace (``@llmops_nb.trace``, tagged ``app=served``) with the LLM call inside
  it and the prompt version on its root, written to the lake before the reply is sent
  (``llmops_nb.flush()``): a notebook sees the trace as soon as the reply arrives.

Routes, all of them refused with 401 unless the request carries ``Authorization: Bearer <token>``
with the token from ``$TEAM_APP_TOKEN`` (an environment variable, so it never shows in ``ps``):

- ``POST /answer`` with ``{"question": "..."}``: ``{"answer", "prompt" (its URI), "trace_id"}``;
- ``GET /status``: the prompt, the versions ``production`` and ``live`` point at, the smoke checks;
- ``GET /lake?tag=KEY=VALUE``: what this process reads in the team store — the newest evaluation
  runs and the newest traces (those with the tag, if given), whoever wrote them.

The model: with ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` set, that provider (``LLMOPS_NB_MODEL``,
default gpt-4.1-mini), as in the notebooks; otherwise the same offline model the notebooks use
(SmolLM2-135M in its own process). It is fast enough to serve a demo: measured 0.5-0.9 s per
40-token answer on two cores, half a second to start, so no deterministic stand-in is needed; but
expect odd answers from a 135M model.

Why ``http.server``: this is a demo that must run wherever the notebooks run, with nothing to
install beyond llmops_nb and the ``openai`` SDK. ``ThreadingHTTPServer`` answers each request on
its own thread, which is all a demo needs. It has no TLS, no limit on connections and no defence
against slow clients, so it binds 127.0.0.1 only; a real service would run the same ``answer()``
under an ASGI server (uvicorn) behind a reverse proxy that terminates TLS.

``--exit-with-parent``: stop when stdin reaches end-of-file. The notebook starts the app with a pipe
on its stdin and never writes to it, so when the kernel ends — stopped, restarted or killed — the
app stops too, instead of serving on with nobody to stop it. SIGTERM and Ctrl-C stop it cleanly.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import openai

import llmops_nb
from llmops_nb import prompts

TOKEN_ENV = "TEAM_APP_TOKEN"
AUTHOR = "team_app"  # who the app's alias moves and runs are recorded as
TAGS = {"app": "served"}
POLICY = "Returns are free within 30 days of delivery. Refunds reach the card in 5 business days."
SMOKE_ROWS = [{"inputs": {"question": "Can I return shoes I wore once?"}},
              {"inputs": {"question": "How long does a refund take?"}}]
MAX_BODY_BYTES = 64 * 1024


def answered(outputs: Any) -> bool:
    """The smoke check's scorer: the version produced a non-empty answer."""
    return bool(str(outputs or "").strip())


class SupportApp:
    """Answers with the prompt version ``production`` points at, once it passed a smoke check."""

    def __init__(self, prompt: str, client: openai.OpenAI, model: str) -> None:
        self.prompt, self.client, self.model = prompt, client, model
        self.checks: dict[int, bool] = {}  # version -> passed its smoke check
        self._lock = threading.Lock()  # one smoke check at a time; other requests wait for its verdict

    def serving(self) -> prompts.PromptVersion:
        """The version to answer with now (``PromptNotFoundError`` when there is none yet)."""
        production = prompts.load(self.prompt, alias="production")  # read on every request: promotions apply
        with self._lock:
            if production.version not in self.checks:
                self.checks[production.version] = self._smoke_check(production)
        if self.checks[production.version]:
            return production
        return prompts.load(self.prompt, alias="live")  # the last version that passed

    def _smoke_check(self, version: prompts.PromptVersion) -> bool:
        run = llmops_nb.evaluate(SMOKE_ROWS, predict_fn=lambda question: self.generate(version, question),
                                 scorers=[answered], name=f"smoke {version.uri}", max_concurrency=2, progress=False)
        passed = bool(run["answered/value"].eq(True).all())  # a failed row's value is missing: not passed
        if passed:
            prompts.set_alias(self.prompt, "live", version.version, author=AUTHOR)
        print(f"team_app: smoke check of {version.uri} {'passed' if passed else 'FAILED'}", file=sys.stderr)
        return passed

    def generate(self, version: prompts.PromptVersion, question: str) -> str:
        values = {"question": question, "policy": POLICY}
        # a variable the app cannot fill is left out, so format() raises naming it (the smoke check fails)
        filled = version.format(**{name: values[name] for name in version.variables if name in values})
        messages = filled if isinstance(filled, list) else [{"role": "user", "content": filled}]
        settings = {"temperature": 0, "max_tokens": 60, **version.model_config}
        reply = self.client.chat.completions.create(model=self.model, messages=messages, **settings)
        return (reply.choices[0].message.content or "").strip()

    @llmops_nb.trace(name="served-answer", kind="CHAIN", tags=TAGS)  # what %%llm_trace --tag sets in a cell
    def answer(self, question: str) -> dict[str, str]:
        root = llmops_nb.get_current_span()
        version = self.serving()
        return {"answer": self.generate(version, question), "prompt": version.uri, "trace_id": root.trace_id}

    def status(self) -> dict[str, Any]:
        aliases: dict[str, int | None] = {}
        for alias in ("production", "live"):
            try:
                aliases[alias] = prompts.load(self.prompt, alias=alias).version
            except prompts.PromptNotFoundError:
                aliases[alias] = None
        with self._lock:
            checks = {str(version): passed for version, passed in sorted(self.checks.items())}
        return {"prompt": self.prompt, **aliases, "smoke_checks": checks, "model": self.model}

    def lake(self, tag: str | None) -> dict[str, Any]:
        traces = llmops_nb.traces(tag=tag, limit=100)
        runs = llmops_nb.eval_runs(limit=50)
        return {"traces": json.loads(traces[["trace_id", "name", "tags"]].to_json(orient="records")),
                "eval_runs": json.loads(runs[["run_id", "name", "status"]].to_json(orient="records"))}


class Handler(BaseHTTPRequestHandler):
    server: AppServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the traces are the log

    def do_GET(self) -> None:
        if not self._authorized():
            return
        url = urlsplit(self.path)
        if url.path == "/status":
            self._send(200, self.server.app.status())
        elif url.path == "/lake":
            tag = parse_qs(url.query).get("tag", [None])[0]
            try:
                self._send(200, self.server.app.lake(tag))
            except ValueError as exc:  # a malformed tag filter
                self._send(400, {"error": str(exc)})
        else:
            self._send(404, {"error": f"no route GET {url.path}: try /status, /lake or POST /answer"})

    def do_POST(self) -> None:
        if not self._authorized():
            return
        if urlsplit(self.path).path != "/answer":
            self._send(404, {"error": f"no route POST {self.path}: try /answer"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(413, {"error": f"the body is over {MAX_BODY_BYTES} bytes"}, close=True)
            return
        try:
            question = json.loads(self.rfile.read(length) or b"{}").get("question")
        except (ValueError, AttributeError):
            question = None
        if not isinstance(question, str) or not question.strip():
            self._send(400, {"error": 'send a JSON object {"question": "..."}'})
            return
        try:
            reply = self.server.app.answer(question)
        except prompts.PromptNotFoundError as exc:
            self._send(503, {"error": f"nothing to serve yet: {exc}"})
            return
        except openai.OpenAIError as exc:
            self._send(502, {"error": f"the model failed: {exc}"})
            return
        except Exception as exc:  # noqa: BLE001 - the client gets an answer; the trace holds the traceback
            self._send(500, {"error": f"{type(exc).__name__}: {exc}"})
            return
        finally:
            llmops_nb.flush(timeout=10)  # in the lake before the reply: the caller can look its trace up
        self._send(200, reply)

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {self.server.token}".encode()):
            return True
        self._send(401, {"error": f"send Authorization: Bearer <the token in ${TOKEN_ENV}>"}, close=True)
        return False

    def _send(self, status: int, payload: dict[str, Any], *, close: bool = False) -> None:
        body = json.dumps(payload, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 401:
            self.send_header("WWW-Authenticate", "Bearer")
        if close:  # the unread body of a refused request must not be taken for the next request
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)


class AppServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, app: SupportApp, token: str) -> None:
        super().__init__(("127.0.0.1", port), Handler)  # never 0.0.0.0: see the module docstring
        self.app, self.token = app, token


def make_client() -> tuple[openai.OpenAI, str]:
    """The notebooks' model: your provider when configured, else the offline model."""
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return (openai.OpenAI(api_key=os.environ.get("OPENAI_API_KEY") or "unused"),
                os.environ.get("LLMOPS_NB_MODEL", "gpt-4.1-mini"))
    from llmops_nb.local_model import MODEL, local_server

    server = local_server()  # its own process, stopped when this one exits
    return openai.OpenAI(base_url=server.base_url, api_key=server.api_key), MODEL


def _stop_at_end_of_stdin(server: AppServer) -> None:
    while os.read(0, 4096):  # the raw descriptor: a thread blocked in sys.stdin would hang the exit
        pass
    server.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--prompt", default="support-answer", help="the prompt to serve (default: support-answer)")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when stdin reaches end-of-file")
    args = parser.parse_args(argv)
    token = os.environ.pop(TOKEN_ENV, "")  # popped: the model's process does not inherit it
    if not token:
        parser.error(f"set ${TOKEN_ENV} to the token clients must send, e.g. "
                     "$(python -c 'import secrets; print(secrets.token_urlsafe())')")

    llmops_nb.sql("SELECT 1")  # attach the store now: a wrong connection string fails here, not on a request
    llmops_nb.autolog()  # the openai SDK's calls become LLM spans inside each answer's trace
    client, model = make_client()
    server = AppServer(args.port, SupportApp(args.prompt, client, model), token)
    # shutdown() waits for serve_forever() to return, so it is called from another thread
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    if args.exit_with_parent:
        threading.Thread(target=_stop_at_end_of_stdin, args=(server,), daemon=True).start()
    host, port = server.server_address[:2]
    print(f"team_app: serving prompts:/{args.prompt}@production on http://{host}:{port} (pid {os.getpid()})",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        llmops_nb.flush(timeout=10)
    print("team_app: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
