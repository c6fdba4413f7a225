"""Fake LLM providers for ``gateway.ipynb``: the notebook's stand-ins for OpenAI and Anthropic.

The gateway notebook shows what a gateway does when a provider fails or runs out of quota, and it
must run offline in CI with no API key. So instead of real providers it starts these: each one a
small Starlette app served by uvicorn on 127.0.0.1 and a free port, in a background thread,
speaking OpenAI's ``/v1/chat/completions`` (JSON, and SSE with usage in the last chunk when
``stream_options.include_usage`` is set) and ``/v1/embeddings``, and Anthropic's ``/v1/messages``
(JSON and SSE). A provider does what its ``mode`` says:

- ``"healthy"``: answers ``"[name] "`` and a canned answer picked from the question, with usage
  counted roughly as providers do (a token per 4 characters, a few per message);
- ``"down"``: 503 to every request;
- ``"rate_limited"``: 429 with ``Retry-After: 1``.

Two more behaviours, for ``monitoring.ipynb``: a system prompt that asks to apologize makes every
answer start with "Sorry," (the regression a new prompt version brings); and a request from an
llmops_nb judge (its system prompt asks for a JSON verdict) is answered as a strict judge would:
``"no"`` when the judged text apologizes or does not know, ``"yes"`` otherwise.

One more, for ``agents.ipynb``: a chat request that offers ``tools`` is answered as a tool-using agent
would be. While the tool results since the user's last message hold no ``FOUND``, it calls the first
tool again (``{"query": <the question>, "attempt": n}``), at most 4 times; then it answers from what
was found (the canned answer of the question's words, else what the tool found), or says it could not
find it. So the notebook's own
tool decides how long the loop runs.

It also plays the two other parts of a multi-turn evaluation. As llmops_nb's simulated user (its system
prompt says "You play a user"), it opens with its goal, stops (``{"stop": true}``) once an answer
came from the canned ones, and otherwise says the answer did not help. As a judge of a whole
conversation, it finds the user frustrated ("unresolved") when the user had to say so, and a goal
not met when the assistant could not find the answer.

Answers are deterministic (no clock, no randomness): the notebook's replay check compares outputs.

    primary = start("primary")
    primary.base_url            # http://127.0.0.1:PORT/v1 (OpenAI); .anthropic_base_url for Anthropic
    primary.mode = "down"
    primary.requests            # requests received so far
    primary.stop()
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODES = ("healthy", "down", "rate_limited")
CREATED = 1_767_225_600  # 2026-01-01: a fixed "created", so every answer is the same bytes
ANSWERS = {  # a word of the question → the answer
    "gateway": "A gateway is one endpoint in front of many models: it routes, retries, limits and records.",
    "fallback": "A fallback is the model group tried when every deployment of the first one has failed.",
    "budget": "A budget caps what a user, key, team or project may spend per day, week or month.",
    "haiku": "Requests fan out; one provider falls silent; another one answers.",
    "capital": "Paris is the capital of France.",
    "refund": "Refunds go back to the original payment method within 5 business days.",
    "password": "Reset your password under Settings, Security, Reset password.",
    "shipping": "Standard shipping takes 3 to 5 business days.",
}


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


def _text(content: object) -> str:
    """A message's text: a string, or OpenAI's / Anthropic's list of parts."""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


JUDGE_MARKER = "You evaluate the output of an AI application"  # llmops_nb's judges' system prompt


def _answer(name: str, body: dict) -> tuple[str, int, int, str]:
    """(text, input tokens, output tokens, finish reason) for a chat or messages request."""
    messages = body.get("messages") or []
    question = _text(messages[-1].get("content")) if messages else ""
    prompt = [_text(m.get("content")) for m in messages] + [_text(body.get("system"))]
    system = " ".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
    system += " " + _text(body.get("system"))
    if JUDGE_MARKER in system:
        text = _verdict(question)
    elif SIMULATOR_MARKER in system:
        text = _simulated_user(system, question)
    else:
        canned = next((a for word, a in ANSWERS.items() if word in question.lower()), None)
        text = f"[{name}] " + ("Sorry, " if "apologize" in system.lower() else "") + (
            canned or f"You asked: {question[:60].strip()}")
    input_tokens = sum(_tokens(t) + 3 for t in prompt) + 3
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if limit and _tokens(text) > limit:  # cut off as a provider does, and say so
        return text[: limit * 4], input_tokens, limit, "length"
    return text, input_tokens, _tokens(text), "stop"


MAX_TOOL_CALLS = 4  # per user message: then the agent answers with what it has


def _agent_step(name: str, body: dict) -> dict | None:
    """The next assistant message of a tool-using agent (a tool call, or the answer), or None for no tools."""
    tools = [t.get("function", {}).get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
    if not tools:
        return None
    messages = body.get("messages") or []
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    question = _text(messages[last_user].get("content")) if last_user >= 0 else ""
    results = [_text(m.get("content")) for m in messages[last_user + 1:] if m.get("role") == "tool"]
    if len(results) < MAX_TOOL_CALLS and not any("FOUND" in r for r in results):
        arguments = json.dumps({"query": question, "attempt": len(results) + 1})
        call_id = "call_" + hashlib.sha256(f"{question}|{len(results)}".encode()).hexdigest()[:16]
        return {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": tools[0], "arguments": arguments}}]}
    canned = next((a for word, a in ANSWERS.items() if word in question.lower()), None)
    found = next((r.split("FOUND:", 1)[1].strip() for r in results if "FOUND:" in r), "")
    return {"role": "assistant", "content": f"[{name}] " + (canned or found or "I could not find that.")}


SIMULATOR_MARKER = "You play a user of an AI assistant"  # llmops_nb's SimulatedUser's system prompt
UNHELPFUL = "That did not answer my question."


def _simulated_user(system: str, prompt: str) -> str:
    """The simulated user's next move, as the JSON it is asked for."""
    goal = system.split("Your goal in this conversation:", 1)[-1].strip().split("\n\n", 1)[0].strip()
    if "The conversation has not started" in prompt:
        return json.dumps({"message": f"Hi. {goal}"})
    last_answer = prompt.rsplit("ASSISTANT:", 1)[-1]
    if any(answer in last_answer for answer in ANSWERS.values()):
        return json.dumps({"stop": True, "reason": "I got my answer."})
    return json.dumps({"message": f"{UNHELPFUL} {goal}"})


def _verdict(judged: str) -> str:
    """A strict judge's JSON verdict on the text it was shown."""
    lowered = judged.lower()
    if 'answer "none" if the user never showed frustration' in lowered:  # user_frustration's three labels
        label = "unresolved" if UNHELPFUL.lower() in lowered else "none"
        return json.dumps({"rationale": f"The user's frustration: {label}.", "result": label})
    if "sorry" in lowered or "you asked:" in lowered or "could not find" in lowered:
        return json.dumps({"rationale": "The answer apologizes or does not answer the question.", "result": "no"})
    return json.dumps({"rationale": "The answer is direct and on topic.", "result": "yes"})


def _sse(events: list[tuple[str | None, object]]) -> StreamingResponse:
    async def body():
        for event, data in events:
            head = f"event: {event}\n" if event else ""
            yield f"{head}data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()
    return StreamingResponse(body(), media_type="text/event-stream")


def _chat(name: str, body: dict) -> Response:
    step = _agent_step(name, body)
    if step is not None:
        if body.get("stream"):
            return _error(False, 400, "invalid_request_error", "this fake provider streams no tool calls")
        n_in = sum(_tokens(_text(m.get("content")) or json.dumps(m.get("tool_calls"))) + 3
                   for m in body.get("messages") or []) + 3
        n_out = _tokens(step["content"] or json.dumps(step["tool_calls"]))
        rid = "chatcmpl-" + hashlib.sha256(json.dumps(step).encode()).hexdigest()[:24]
        choice = {"index": 0, "message": step, "finish_reason": "tool_calls" if step.get("tool_calls") else "stop"}
        return JSONResponse({"id": rid, "created": CREATED, "model": body.get("model", "fake"),
                             "object": "chat.completion", "choices": [choice],
                             "usage": {"prompt_tokens": n_in, "completion_tokens": n_out,
                                       "total_tokens": n_in + n_out}})
    text, n_in, n_out, finish = _answer(name, body)
    model, rid = body.get("model", "fake"), "chatcmpl-" + hashlib.sha256(text.encode()).hexdigest()[:24]
    usage = {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}
    head = {"id": rid, "created": CREATED, "model": model}
    if not body.get("stream"):
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        return JSONResponse({**head, "object": "chat.completion", "choices": [choice], "usage": usage})

    def chunk(delta: dict, reason: str | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "finish_reason": reason}
        return {**head, "object": "chat.completion.chunk", "choices": [choice]}
    words = text.split(" ")
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words)]
    events.append(chunk({}, finish))
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
    return _sse([(None, e) for e in events] + [(None, "[DONE]")])


def _messages(name: str, body: dict) -> Response:
    text, n_in, n_out, finish = _answer(name, body)
    stop = {"stop": "end_turn", "length": "max_tokens"}[finish]
    message = {"id": "msg_" + hashlib.sha256(text.encode()).hexdigest()[:24], "type": "message",
               "role": "assistant", "model": body.get("model", "fake"), "stop_sequence": None}
    if not body.get("stream"):
        return JSONResponse({**message, "content": [{"type": "text", "text": text}], "stop_reason": stop,
                             "usage": {"input_tokens": n_in, "output_tokens": n_out}})
    events: list[tuple[str | None, object]] = [
        ("message_start", {"type": "message_start", "message": {
            **message, "content": [], "stop_reason": None, "usage": {"input_tokens": n_in, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}})]
    events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                        "delta": {"type": "text_delta", "text": w if i == 0 else " " + w}})
               for i, w in enumerate(text.split(" "))]
    events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
               ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                  "usage": {"output_tokens": n_out}}),
               ("message_stop", {"type": "message_stop"})]
    return _sse(events)


def _embeddings(body: dict) -> Response:
    inputs = body.get("input")
    texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
    data = [{"object": "embedding", "index": i,  # 8 numbers in [-1, 1) from the text's hash
             "embedding": [b / 128 - 1 for b in hashlib.sha256(str(t).encode()).digest()[:8]]}
            for i, t in enumerate(texts)]
    n = sum(_tokens(str(t)) for t in texts)
    return JSONResponse({"object": "list", "data": data, "model": body.get("model", "fake"),
                         "usage": {"prompt_tokens": n, "total_tokens": n}})


class Provider:
    """One fake provider, serving from a background thread: ``base_url``, ``mode``, ``requests``, ``stop()``."""

    def __init__(self, name: str) -> None:
        self.name, self.requests, self._mode = name, 0, "healthy"
        routes = [Route(path, self._handle, methods=["POST"])
                  for path in ("/v1/chat/completions", "/v1/embeddings", "/v1/messages")]
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))  # a free port, known before the server starts
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(Starlette(routes=routes), log_config=None, log_level="warning", access_log=False,
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True,
                                        name=f"fake-provider-{name}")
        self._thread.start()
        while not self._server.started:  # a few milliseconds
            if not self._thread.is_alive():
                raise RuntimeError(f"the fake provider {name!r} did not start")
            time.sleep(0.01)

    base_url = property(lambda self: f"http://127.0.0.1:{self.port}/v1", doc="OpenAI's base URL")
    anthropic_base_url = property(lambda self: f"http://127.0.0.1:{self.port}", doc="Anthropic's base URL")

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode is one of {', '.join(MODES)}, not {mode!r}")
        self._mode = mode

    async def _handle(self, request: Request) -> Response:
        self.requests += 1
        anthropic = request.url.path == "/v1/messages"
        if not (request.headers.get("authorization") or request.headers.get("x-api-key")):
            return _error(anthropic, 401, "authentication_error", "no API key")
        if self._mode == "down":
            return _error(anthropic, 503, "overloaded_error", f"{self.name} is down")
        if self._mode == "rate_limited":
            return _error(anthropic, 429, "rate_limit_error", f"{self.name}: too many requests", {"Retry-After": "1"})
        body = await request.json()
        if request.url.path.endswith("/embeddings"):
            return _embeddings(body)
        return _messages(self.name, body) if anthropic else _chat(self.name, body)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()

    def __repr__(self) -> str:
        return f"<fake provider {self.name!r} on {self.base_url}: {self._mode}>"


def _error(anthropic: bool, status: int, kind: str, message: str, headers: dict | None = None) -> Response:
    body = ({"type": "error", "error": {"type": kind, "message": message}} if anthropic
            else {"error": {"message": message, "type": kind, "code": None, "param": None}})
    return JSONResponse(body, status_code=status, headers=headers)


def start(name: str) -> Provider:
    """Start a fake provider called ``name`` (its answers begin with ``[name]``) on 127.0.0.1."""
    return Provider(name)
