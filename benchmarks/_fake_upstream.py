"""A fast fake OpenAI-compatible upstream for ``gateway_bench.py``: ``python -m benchmarks._fake_upstream --port 0``.

Answers ``POST /v1/chat/completions`` with a fixed completion — JSON, or an SSE stream of
``CHUNKS`` content chunks (plus the usage chunk when ``stream_options.include_usage`` asks for it)
— always with the same usage (``PROMPT_TOKENS`` in, ``COMPLETION_TOKENS`` out), and ``GET
/v1/models``. Prints its port on stdout once it listens, then serves until killed.

Every contender of the benchmark talks to this one server, so it must cost far less than what is
measured: a bare ``asyncio.Protocol`` speaking just enough HTTP/1.1 (keep-alive, ``Content-Length``
bodies), answers rendered once per (model, stream, usage) and cached as bytes, one ``write`` per
answer. It runs in its own process so its event loop never competes with the measured kernel's
threads for the GIL. (``tests/fakes/llm_server.py`` is the full-featured fake the tests use; a
thread per connection makes it too slow here.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

CHUNKS = 10
PROMPT_TOKENS = 12
COMPLETION_TOKENS = 10
_WORDS = [f"word{i} " for i in range(CHUNKS)]
_MAX_HEAD = 64 * 1024
_MAX_BODY = 16 * 1024 * 1024


def _usage() -> dict[str, object]:
    return {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}


def _head(model: str) -> dict[str, object]:
    return {"id": "chatcmpl-bench", "created": 1_700_000_000, "model": model, "system_fingerprint": "fp_bench"}


def _json_answer(model: str) -> bytes:
    body = {**_head(model), "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(_WORDS), "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": _usage()}
    return _response(json.dumps(body).encode(), b"application/json")


def _sse_answer(model: str, include_usage: bool) -> bytes:
    head = {**_head(model), "object": "chat.completion.chunk"}

    def chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
        data = {**head, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            data["usage"] = None
        return data

    events = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": w}) for w in _WORDS]
    events.append(chunk({}, "stop"))
    if include_usage:
        events.append({**head, "choices": [], "usage": _usage()})
    body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
    return _response(body, b"text/event-stream")


def _response(body: bytes, content_type: bytes, status: bytes = b"200 OK") -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: " + content_type + b"\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\nx-request-id: req_bench\r\n\r\n" + body)


_MODELS = _response(json.dumps({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model",
                                                            "created": 0, "owned_by": "bench"}]}).encode(),
                    b"application/json")
_NOT_FOUND = _response(b'{"error": {"message": "not found", "type": "invalid_request_error"}}',
                       b"application/json", b"404 Not Found")
_BAD = _response(b'{"error": {"message": "bad request", "type": "invalid_request_error"}}',
                 b"application/json", b"400 Bad Request")
_CACHE: dict[tuple[str, bool, bool], bytes] = {}


def answer(method: bytes, path: bytes, body: bytes) -> bytes:
    """The bytes to send back for one request."""
    if method == b"GET" and path.endswith(b"/models"):
        return _MODELS
    if method != b"POST" or not path.endswith(b"/chat/completions"):
        return _NOT_FOUND
    try:
        request = json.loads(body)
    except ValueError:
        return _BAD
    model = str(request.get("model", "gpt-4o-mini"))
    stream = bool(request.get("stream"))
    options = request.get("stream_options")
    include_usage = stream and isinstance(options, dict) and bool(options.get("include_usage"))
    key = (model, stream, include_usage)
    cached = _CACHE.get(key)
    if cached is None:
        cached = _CACHE[key] = _sse_answer(model, include_usage) if stream else _json_answer(model)
    return cached


class _Http(asyncio.Protocol):
    """One keep-alive connection: requests parsed from a buffer, answered in order."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.served = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    self._close()
                return
            head = self.buffer[:end].split(b"\r\n")
            parts = head[0].split(b" ")
            length, close = 0, False
            for line in head[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length > _MAX_BODY or len(parts) < 2:
                self._close()
                return
            if len(self.buffer) < end + 4 + length:
                return  # the rest of the body is still coming
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            assert self.transport is not None
            self.transport.write(answer(parts[0], parts[1].split(b"?")[0], body))
            self.served += 1
            if close:
                self._close()
                return

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Http, host, port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._fake_upstream", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed on stdout)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args.host, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
