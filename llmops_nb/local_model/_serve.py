"""The OpenAI-compatible HTTP server around the loaded llama; it runs in the server process only.

Our own server on the standard library, not ``llama_cpp.server`` (measured and read for issue 8,
version 0.3.36, 2 busy cores, same model, interleaved runs): it takes longer to start (0.58-1.19 s,
median 0.78 s, from spawn to a 200 on /v1/models, against 0.28-0.54 s, median 0.47 s, for ours;
importing its FastAPI app alone takes 0.7-1.4 s) and brings a FastAPI/uvicorn/sse-starlette stack,
and it lacks what our tracing and judges rely on: no ``stream_options.include_usage`` (a streamed
reply carries no token counts), no ``response_format: json_schema`` (a 500 validation error; only
``json_object``), no ``max_completion_tokens`` (silently ignored: a 4-token cap generated 66),
``n=2`` silently answers one choice, and its API key leaves ``/docs`` and ``/openapi.json`` open
and is compared with ``==``.

This server is small and covers exactly those: any ``model`` name is answered by SmolLM2, replies
stream as SSE with usage when asked, ``json_schema`` becomes llama-cpp's schema-constrained JSON,
``n`` must be 1, tools are refused with a 400, and one request at a time runs on the model.

Every route checks ``Authorization: Bearer <key>`` (constant-time) and answers 401 otherwise:
127.0.0.1 is shared by every user and process of the machine.
"""

from __future__ import annotations

import hmac
import itertools
import json
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from ._install import MODEL

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The environment variable that hands the server process its key (argv is readable by every user).
KEY_ENV = "LLMOPS_NB_LOCAL_MODEL_KEY"
#: The folder of the server process's log, which it removes if its parent dies without doing so.
LOG_DIR_ENV = "LLMOPS_NB_LOCAL_MODEL_LOG_DIR"
# OpenAI's default is "until the context is full"; a 135M model may ramble that long.
_DEFAULT_MAX_TOKENS = 512
# Request fields handed to llama-cpp-python unchanged; others (user, store, metadata...) are ignored.
_PASSTHROUGH = (
    "temperature",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
)


def _response_format(value: dict[str, Any]) -> dict[str, Any]:
    # OpenAI's structured outputs ({"type": "json_schema", "json_schema": {"schema": ...}}) become
    # llama-cpp's schema-constrained JSON mode; otherwise llama-cpp would silently ignore them.
    if value.get("type") == "json_schema":
        return {"type": "json_object", "schema": (value.get("json_schema") or {}).get("schema") or {}}
    return value


def _text(content: Any) -> str:
    # The SDK may send content as parts; SmolLM2's chat template expects a plain string.
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


class _Model:
    """The loaded llama, one request at a time (llama.cpp contexts are not thread-safe)."""

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.lock = threading.Lock()
        self._tokens = [0, 0]  # prompt, generated: llama-cpp reports no usage when streaming
        generate = llama.generate

        def counting_generate(tokens: Any, *args: Any, **kwargs: Any) -> Iterator[int]:
            self._tokens[:] = [len(tokens), 0]
            for token in generate(tokens, *args, **kwargs):
                self._tokens[1] += 1
                yield token

        llama.generate = counting_generate

    def chunks(self, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Yield OpenAI chat.completion.chunk dicts, then one whose ``usage`` is set."""
        messages = [{**m, "content": _text(m.get("content"))} for m in body.get("messages") or []]
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        kwargs = {k: body[k] for k in _PASSTHROUGH if body.get(k) is not None}
        if "response_format" in kwargs:
            kwargs["response_format"] = _response_format(kwargs["response_format"])
        head = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": MODEL,
        }
        finish = None
        with self.lock:
            stream = self.llama.create_chat_completion(
                messages, stream=True, max_tokens=max_tokens or _DEFAULT_MAX_TOKENS, **kwargs
            )
            for chunk in stream:
                finish = chunk["choices"][0].get("finish_reason") or finish
                yield {**chunk, **head}
            prompt, generated = self._tokens
        # The token that ended generation (end-of-turn) is not part of the reply.
        completion = generated - (finish == "stop" and generated > 0)
        yield {
            **head,
            "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
        }


def _completion(chunks: Iterator[dict[str, Any]]) -> dict[str, Any]:
    parts: list[str] = []
    message: dict[str, Any] = {"role": "assistant"}
    finish = usage = None
    for chunk in chunks:
        head = chunk
        if not chunk["choices"]:
            usage = chunk["usage"]
            continue
        parts.append(chunk["choices"][0]["delta"].get("content") or "")
        finish = chunk["choices"][0].get("finish_reason") or finish
    message["content"] = "".join(parts)
    return {
        "id": head["id"],
        "object": "chat.completion",
        "created": head["created"],
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access log: the log file is for crashes, and requests carry the user's data

    def _json(self, status: int, payload: dict[str, Any], *, close: bool = False) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:  # the request body was not read: the connection cannot carry another request
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error", *, close: bool = False) -> None:
        self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": None}}, close=close)

    def _authorized(self) -> bool:
        given = (self.headers.get("Authorization") or "").encode()
        if hmac.compare_digest(given, self.server.authorization):
            return True
        self._error(401, "Missing or wrong API key: this server was started by llmops_nb.local_model; use its "
                    "LocalServer's api_key, e.g. openai.OpenAI(base_url=server.base_url, api_key=server.api_key).",
                    "authentication_error", close=True)
        return False

    def do_GET(self) -> None:
        if not self._authorized():
            return
        if self.path.rstrip("/") in ("/v1/models", f"/v1/models/{MODEL}"):
            card = {"id": MODEL, "object": "model", "created": 0, "owned_by": "llmops_nb"}
            self._json(200, {"object": "list", "data": [card]} if self.path.rstrip("/").endswith("s") else card)
        else:
            self._error(404, f"No route GET {self.path}; try /v1/models.")

    def _not_allowed(self) -> None:
        if self._authorized():
            self._error(405, f"{self.command} is not supported; GET /v1/models or POST /v1/chat/completions.",
                        close=True)

    # http.server dispatches on these names; other methods get its own 501, which says nothing.
    do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _not_allowed  # noqa: N815

    def do_POST(self) -> None:
        if not self._authorized():
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(404, f"No route POST {self.path}; try /v1/chat/completions.", close=True)
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        except ValueError as exc:
            self._error(400, f"The request body is not JSON: {exc}")
            return
        messages = body.get("messages") if isinstance(body, dict) else None
        if not messages or not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            self._error(400, "The request needs a non-empty 'messages' list of {role, content} objects.")
            return
        if body.get("n") not in (None, 1):
            self._error(400, f"n={body['n']} is not supported by the offline model; use n=1.")
            return
        if body.get("tools") or body.get("functions"):
            self._error(400, "Tool calling is not supported by the offline model; send no 'tools'.")
            return
        try:
            if body.get("stream"):
                self._stream(body)
            else:
                self._json(200, _completion(self.server.model.chunks(body)))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away; the generator's lock was released on close
        except Exception as exc:  # noqa: BLE001 - every request gets an answer, never a hang
            traceback.print_exc(file=sys.stderr)  # into the server's log file
            self._error(500, f"The offline model failed: {type(exc).__name__}: {exc}", "server_error")

    def _stream(self, body: dict[str, Any]) -> None:
        options = body.get("stream_options") or {}
        chunks = self.server.model.chunks(body)
        first = next(chunks)  # before headers, so a failure still gets a JSON error
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # the body ends when the connection does
        self.end_headers()
        self.close_connection = True
        try:
            for chunk in itertools.chain([first], chunks):
                if options.get("include_usage"):
                    chunk.setdefault("usage", None)
                elif not chunk["choices"]:
                    continue
                self._event(chunk)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # noqa: BLE001 - headers are sent: report in-band, as OpenAI does
            traceback.print_exc(file=sys.stderr)
            self._event(
                {
                    "error": {
                        "message": f"The offline model failed: {exc}",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                }
            )
        finally:
            chunks.close()
        self.wfile.write(b"data: [DONE]\n\n")

    def _event(self, payload: dict[str, Any]) -> None:
        self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, model: _Model, key: str, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.model = model
        self.authorization = f"Bearer {key}".encode()


def make_server(llama: Any, key: str, port: int = 0) -> _Server:
    """Bind 127.0.0.1:``port`` (0: any free port) for the loaded ``llama``; serve with ``serve_forever()``."""
    return _Server(_Model(llama), key, port)
