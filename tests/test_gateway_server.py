"""The gateway as a server: a real ``python -m llmops_nb gateway`` process between the real OpenAI and
Anthropic SDKs and two fake providers (``tests/fakes``), plus ``serve()`` started and stopped in-process.

Nothing is patched: the SDKs speak HTTP to uvicorn, the gateway speaks HTTP to the fakes.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
import yaml

from tests.fakes.llm_server import FakeLLMServer, Reply, Usage

ROOT = Path(__file__).resolve().parent.parent
OPENAI_KEY = "sk-fake-openai-" + secrets.token_hex(12)
ANTHROPIC_KEY = "sk-ant-fake-" + secrets.token_hex(12)
MASTER_KEY = "sk-master-" + secrets.token_hex(12)
LIMIT = 64 * 1024  # general_settings.max_request_bytes of the served config
HELLO = [{"role": "user", "content": "hello there"}]


@dataclass
class Running:
    """One gateway process and the fakes behind it."""

    process: subprocess.Popen[bytes]
    url: str
    stderr_path: Path
    db: Path
    openai_fake: FakeLLMServer
    anthropic_fake: FakeLLMServer
    slow_fake: FakeLLMServer

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    def openai(self, key: str = MASTER_KEY) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.openai_base_url, api_key=key, max_retries=0)

    def anthropic(self, key: str = MASTER_KEY) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.url, api_key=key, max_retries=0)

    def http(self, key: str | None = MASTER_KEY) -> httpx.Client:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()


def _config(openai_fake: FakeLLMServer, anthropic_fake: FakeLLMServer, slow_fake: FakeLLMServer, *,
            master_key: bool = True) -> dict[str, Any]:
    def openai_entry(name: str, fake: FakeLLMServer, model: str) -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {"model": f"openai/{model}", "api_base": fake.openai_base_url,
                                                       "api_key": "os.environ/FAKE_OPENAI_KEY"}}

    config: dict[str, Any] = {
        "model_list": [
            openai_entry("chat", openai_fake, "gpt-4o-mini"),
            openai_entry("embed", openai_fake, "text-embedding-3-small"),
            openai_entry("slow", slow_fake, "gpt-4o-mini"),
            {**openai_entry("priced", slow_fake, "gpt-4o-mini"),
             "model_info": {"input_cost_per_token": 0, "output_cost_per_token": 1e-3}},
            {"model_name": "claude", "litellm_params": {"model": "anthropic/claude-3-5-haiku-latest",
                                                        "api_base": anthropic_fake.anthropic_base_url,
                                                        "api_key": "os.environ/FAKE_ANTHROPIC_KEY"}},
        ],
        "router_settings": {"num_retries": 0},
        "general_settings": {"max_request_bytes": LIMIT},
    }
    if master_key:
        config["general_settings"]["master_key"] = "os.environ/LLMOPS_GW_MASTER_KEY"
    return config


def _env(db: Path) -> dict[str, str]:
    return {**os.environ, "FAKE_OPENAI_KEY": OPENAI_KEY, "FAKE_ANTHROPIC_KEY": ANTHROPIC_KEY,
            "LLMOPS_GW_MASTER_KEY": MASTER_KEY, "LLMOPS_NB_DB": str(db), "PYTHONUNBUFFERED": "1"}


def _command(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "llmops_nb", "gateway", "--config", str(config), *extra]


def _run(config: Path, *extra: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(config, *extra), check=False, cwd=ROOT, env=_env(db), capture_output=True,
                          text=True, timeout=120)


def _start(folder: Path, fakes: tuple[FakeLLMServer, FakeLLMServer, FakeLLMServer]) -> Running:
    config, db, stderr_path = folder / "gateway.yaml", folder / "gateway.duckdb", folder / "stderr.txt"
    config.write_text(yaml.safe_dump(_config(*fakes)))
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(_command(config, "--port", "0", "--db", str(db)), cwd=ROOT, env=_env(db),
                                   stdout=subprocess.PIPE, stderr=stderr)
    try:
        line = _first_line(process, stderr_path)
        found = re.fullmatch(r"llmops_nb gateway on (http://127\.0\.0\.1:\d+) \(5 models\) — Ctrl-C to stop", line)
        assert found, line
    except BaseException:  # a gateway that started wrong must not outlive the test run
        process.kill()
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()
        raise
    return Running(process, found.group(1), stderr_path, db, *fakes)


def _first_line(process: subprocess.Popen[bytes], stderr_path: Path, deadline_s: float = 120) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], deadline_s)
    if not ready:
        process.kill()
        process.wait()
        pytest.fail(f"the gateway did not start: {stderr_path.read_text()}")
    line = process.stdout.readline().decode().strip()
    if not line:
        process.wait()
        pytest.fail(f"the gateway exited ({process.returncode}): {stderr_path.read_text()}")
    return line


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeLLMServer, FakeLLMServer, FakeLLMServer]]:
    with FakeLLMServer() as openai_fake, FakeLLMServer() as anthropic_fake, FakeLLMServer() as slow_fake:
        yield openai_fake, anthropic_fake, slow_fake


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory,
            fakes: tuple[FakeLLMServer, FakeLLMServer, FakeLLMServer]) -> Iterator[Running]:
    running = _start(tmp_path_factory.mktemp("gateway_server"), fakes)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True)
def _clean_fakes(fakes: tuple[FakeLLMServer, FakeLLMServer, FakeLLMServer]) -> Iterator[None]:
    for fake in fakes:
        fake.reset()
    yield


# -- the model routes, through the real SDKs --------------------------------------------------------------
def test_chat_through_the_openai_sdk_reaches_the_provider_with_its_key(gateway: Running) -> None:
    gateway.openai_fake.enqueue(Reply(text="Paris", usage=Usage(input_tokens=9, output_tokens=1)))
    with gateway.openai() as client:
        reply = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Capital?"}])
    assert reply.choices[0].message.content == "Paris"
    assert reply.usage is not None and reply.usage.completion_tokens == 1
    sent = gateway.openai_fake.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"  # the provider's key, not the client's
    assert MASTER_KEY not in json.dumps(sent.headers)


def _deltas(stream: Any) -> list[tuple[str | None, str | None]]:
    return [(chunk.choices[0].delta.content, chunk.choices[0].finish_reason) for chunk in stream if chunk.choices]


def test_streaming_passes_the_providers_chunks_through_unchanged_and_in_order(gateway: Running) -> None:
    reply = Reply(text="The capital of France is Paris.", chunks=["The", " capital", " of", " France", " is",
                                                                   " Paris", "."])
    gateway.openai_fake.enqueue(reply, reply)
    with openai.OpenAI(base_url=gateway.openai_fake.openai_base_url, api_key=OPENAI_KEY, max_retries=0) as direct:
        expected = _deltas(direct.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True))
    with gateway.openai() as client:
        got = _deltas(client.chat.completions.create(model="chat", messages=HELLO, stream=True))
    assert [text for text, _ in expected if text] == ["The", " capital", " of", " France", " is", " Paris", "."]
    assert got == expected


def test_chat_without_the_v1_prefix_as_litellm_clients_send_it(gateway: Running) -> None:
    with openai.OpenAI(base_url=gateway.url, api_key=MASTER_KEY, max_retries=0) as client:
        reply = client.chat.completions.create(model="chat", messages=HELLO)
    assert reply.choices[0].message.content == "echo: hello there"
    assert gateway.openai_fake.requests[-1].path == "/v1/chat/completions"


def test_embeddings(gateway: Running) -> None:
    with gateway.openai() as client:
        result = client.embeddings.create(model="embed", input=["a", "b"])
    assert [item.index for item in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 8
    assert gateway.openai_fake.requests[-1].path == "/v1/embeddings"


def test_models_lists_the_model_names(gateway: Running) -> None:
    with gateway.openai() as client:
        assert sorted(model.id for model in client.models.list()) == ["chat", "claude", "embed", "priced", "slow"]


def test_messages_through_the_anthropic_sdk(gateway: Running) -> None:
    gateway.anthropic_fake.enqueue(Reply(text="Bonjour", usage=Usage(input_tokens=4, output_tokens=1)))
    with gateway.anthropic() as client:
        message = client.messages.create(model="claude", max_tokens=50, messages=HELLO)
    assert message.content[0].text == "Bonjour"  # type: ignore[union-attr]
    sent = gateway.anthropic_fake.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY


def test_messages_streaming_matches_a_direct_stream(gateway: Running) -> None:
    reply = Reply(text="one two three", chunks=["one", " two", " three"])
    gateway.anthropic_fake.enqueue(reply, reply)
    with anthropic.Anthropic(base_url=gateway.anthropic_fake.anthropic_base_url, api_key=ANTHROPIC_KEY,
                             max_retries=0) as direct, \
            direct.messages.stream(model="claude-3-5-haiku-latest", max_tokens=50, messages=HELLO) as stream:
        expected = list(stream.text_stream)
    with gateway.anthropic() as client, client.messages.stream(model="claude", max_tokens=50, messages=HELLO) as stream:
        got = list(stream.text_stream)
    assert expected == ["one", " two", " three"]
    assert got == expected


def test_a_client_hanging_up_mid_stream_closes_the_upstream_stream(gateway: Running) -> None:
    fake = gateway.slow_fake  # this test's alone: its open connections are the stream's
    fake.enqueue(Reply(text="x", chunks=["token "] * 600, chunk_delay=0.05))  # 30 s if nobody hangs up
    body = {"model": "slow", "messages": HELLO, "stream": True}
    with gateway.http() as http, http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert next(response.iter_raw())
    deadline = time.monotonic() + 20
    while fake._connections and time.monotonic() < deadline:  # the fake's own record of open connections
        time.sleep(0.05)
    assert not fake._connections, "the gateway kept reading the upstream stream after its client left"
    assert len(fake.requests) == 1


# -- authentication ---------------------------------------------------------------------------------------
def test_no_key_is_401_in_each_protocols_shape(gateway: Running) -> None:
    with gateway.http(key=None) as http:
        chat = http.post("/v1/chat/completions", json={"model": "chat", "messages": HELLO})
        messages = http.post("/v1/messages", json={"model": "claude", "max_tokens": 5, "messages": HELLO})
        health = http.get("/health")
        models = http.get("/v1/models")
    assert chat.status_code == messages.status_code == health.status_code == models.status_code == 401
    assert chat.json()["error"]["code"] == "invalid_api_key"
    assert messages.json()["type"] == "error"
    assert messages.json()["error"]["type"] == "authentication_error"
    assert not gateway.openai_fake.requests and not gateway.anthropic_fake.requests


def test_a_wrong_key_is_401_for_both_sdks(gateway: Running) -> None:
    with gateway.openai("sk-wrong") as client, pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="chat", messages=HELLO)
    with gateway.anthropic("sk-wrong") as client, pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model="claude", max_tokens=5, messages=HELLO)
    with gateway.http("sk-wrong") as http:
        assert http.get("/health").status_code == 401
    assert not gateway.openai_fake.requests and not gateway.anthropic_fake.requests


def test_health_with_a_key(gateway: Running) -> None:
    with gateway.http() as http:
        answer = http.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "models": 5}


# -- what the server refuses itself -----------------------------------------------------------------------
def test_a_body_over_the_limit_is_413_by_its_length(gateway: Running) -> None:
    body = json.dumps({"model": "chat", "messages": [{"role": "user", "content": "x" * LIMIT}]}).encode()
    with gateway.http() as http:
        answer = http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
        assert http.get("/health").status_code == 200
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "request_too_large"
    assert not gateway.openai_fake.requests


def test_a_chunked_body_over_the_limit_is_413_while_read(gateway: Running) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "chat", "messages": [{"role": "user", "content": "'
        for _ in range(2 * LIMIT // 4096):
            yield b"x" * 4096
        yield b'"}]}'

    with gateway.http() as http:
        answer = http.post("/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
        assert http.get("/health").status_code == 200  # the client can go on (on this or a new connection)
    assert answer.request.headers.get("transfer-encoding") == "chunked"
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "request_too_large"
    assert not gateway.openai_fake.requests


def test_bad_json_is_400_saying_so(gateway: Running) -> None:
    with gateway.http() as http:
        answer = http.post("/v1/chat/completions", content=b'{"model": "chat", ', headers={
            "content-type": "application/json"})
        listed = http.post("/v1/chat/completions", json=["not", "an", "object"])
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["error"]["message"]
    assert listed.status_code == 400
    assert "not an object" in listed.json()["error"]["message"]


# -- virtual keys through LiteLLM's routes ----------------------------------------------------------------
def test_a_generated_key_works_and_is_limited_to_its_models(gateway: Running) -> None:
    with gateway.http() as http:
        made = http.post("/key/generate", json={"models": ["chat"], "key_alias": "alice-notebook",
                                                "user_id": "alice", "metadata": {"project": "search"}})
    assert made.status_code == 200, made.text
    key, key_id = made.json()["key"], made.json()["key_id"]
    assert made.json()["models"] == ["chat"] and made.json()["user_id"] == "alice"

    with gateway.openai(key) as client:
        reply = client.chat.completions.create(model="chat", messages=HELLO, user="mallory")
        assert reply.choices[0].message.content == "echo: hello there"
        assert [model.id for model in client.models.list()] == ["chat"]
        with pytest.raises(openai.PermissionDeniedError):
            client.chat.completions.create(model="claude", messages=HELLO)
    with gateway.anthropic(key) as client, pytest.raises(anthropic.PermissionDeniedError):
        client.messages.create(model="claude", max_tokens=5, messages=HELLO)
    assert not gateway.anthropic_fake.requests

    with gateway.http(key) as http:  # a virtual key manages no keys
        assert http.post("/key/generate", json={}).status_code == 403
        assert http.get("/key/list").status_code == 403
    with gateway.http() as http:
        listed = http.get("/key/list").json()["keys"]
        assert key_id in [row["key_id"] for row in listed]
        assert key not in json.dumps(listed)
        deleted = http.post("/key/delete", json={"keys": [key_id]})
    assert deleted.status_code == 200 and deleted.json() == {"deleted_keys": [key_id]}
    with gateway.openai(key) as client, pytest.raises(openai.PermissionDeniedError, match="revoked"):
        client.chat.completions.create(model="chat", messages=HELLO)


def test_a_keys_budget_holds_under_200_concurrent_requests(gateway: Running) -> None:
    with gateway.http() as http:
        made = http.post("/key/generate", json={"models": ["priced"], "max_budget": 0.5, "budget_duration": "1d"})
    assert made.status_code == 200, made.text
    gateway.slow_fake.enqueue(*[Reply(text="ok", usage=Usage(input_tokens=3, output_tokens=10), delay=0.05)
                                for _ in range(200)])

    async def one(client: openai.AsyncOpenAI) -> str:
        try:
            await client.chat.completions.create(model="priced", max_tokens=10, messages=HELLO)
            return "ok"
        except openai.RateLimitError as exc:
            assert isinstance(exc.body, dict) and exc.body["code"] == "budget_exceeded"
            assert exc.response.headers["x-should-retry"] == "false"
            return "rejected"

    async def main() -> list[str]:
        async with openai.AsyncOpenAI(base_url=gateway.openai_base_url, api_key=made.json()["key"],
                                      max_retries=0, timeout=60) as client:
            return await asyncio.gather(*(one(client) for _ in range(200)))

    results = asyncio.run(main())
    # each request reserves and costs exactly $0.01 (10 output tokens at $0.001): $0.50 holds 50
    assert results.count("ok") == 50 and results.count("rejected") == 150
    assert len(gateway.slow_fake.requests) == 50


def test_key_routes_refuse_what_they_would_ignore_and_delete_by_the_key_itself(gateway: Running) -> None:
    with gateway.http() as http:
        unknown = http.post("/key/generate", json={"duration": "30d"})
        typo = http.post("/key/generate", json={"models": ["chta"]})
        missing = http.post("/key/delete", json={"keys": ["key_000000000000"]})
        key = http.post("/key/generate", json={}).json()["key"]
        deleted = http.post("/key/delete", json={"keys": [key]})  # LiteLLM takes the key as well as its id
    assert unknown.status_code == 400 and "'duration'" in unknown.json()["error"]["message"]
    assert typo.status_code == 400 and "Did you mean 'chat'?" in typo.json()["error"]["message"]
    assert missing.status_code == 404
    assert deleted.status_code == 200 and deleted.json()["deleted_keys"][0].startswith("key_")


# -- the process: refusals, graceful stop, and no provider key anywhere -----------------------------------
def test_the_command_refuses_a_config_without_a_master_key(tmp_path: Path,
                                                           fakes: tuple[FakeLLMServer, ...]) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump(_config(*fakes, master_key=False)))
    done = _run(config, "--port", "0", db=tmp_path / "db.duckdb")
    assert done.returncode == 2
    assert "set general_settings.master_key: os.environ/LLMOPS_GW_MASTER_KEY" in done.stderr


def test_the_command_refuses_a_bad_config_and_a_remote_host(tmp_path: Path,
                                                            fakes: tuple[FakeLLMServer, ...]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_list: [{model_name: chat, litellm_params: {model: openai/x, api_key: sk-literal-123}}]\n")
    done = _run(bad, "--port", "0", db=tmp_path / "db.duckdb")
    assert done.returncode == 2 and done.stderr.startswith("llmops_nb gateway: ")
    assert "sk-literal-123" not in done.stderr
    good = tmp_path / "gateway.yaml"
    good.write_text(yaml.safe_dump(_config(*fakes)))
    done = _run(good, "--port", "0", "--host", "0.0.0.0", db=tmp_path / "db.duckdb")
    assert done.returncode == 2 and "--allow-remote" in done.stderr


def test_sigterm_stops_it_and_no_provider_key_reaches_the_store_or_the_log(
        tmp_path: Path, fakes: tuple[FakeLLMServer, FakeLLMServer, FakeLLMServer]) -> None:
    import duckdb

    for fake in fakes:
        fake.reset()
    running = _start(tmp_path, fakes)
    try:
        with running.openai() as client:
            client.chat.completions.create(model="chat", messages=HELLO)
            list(client.chat.completions.create(model="chat", messages=HELLO, stream=True))
            with pytest.raises(openai.NotFoundError):
                client.chat.completions.create(model="no-such-model", messages=HELLO)
        with running.anthropic() as client:
            client.messages.create(model="claude", max_tokens=20, messages=HELLO)
    finally:
        code = running.stop()
    stderr = running.stderr_path.read_text()
    assert code == 0, stderr
    assert running.openai_fake.requests[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, MASTER_KEY):
        assert secret not in stderr
        assert secret.encode() not in running.db.read_bytes()
    with duckdb.connect(str(running.db), read_only=True) as con:  # flushed on SIGTERM: the traces are there
        gateway_spans = con.execute("SELECT count(*) FROM spans WHERE name LIKE 'gateway %'").fetchone()
        assert gateway_spans is not None and gateway_spans[0] >= 4
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables "
                                    "WHERE table_schema = 'main'").fetchall():
            for secret in (OPENAI_KEY, ANTHROPIC_KEY, MASTER_KEY):
                found = con.execute(f'SELECT count(*) FROM "{table}" AS t WHERE CAST(t AS VARCHAR) LIKE ?',
                                    [f"%{secret}%"]).fetchone()
                assert found == (0,), (table, secret[:12])


# -- serve() in the kernel's process --------------------------------------------------------------------------
def _sockets() -> set[str]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


def _settles(what: Any, expected: Any, deadline_s: float = 20) -> Any:
    """``what()`` once it equals ``expected`` (threads and sockets of the other side end a moment later)."""
    deadline = time.monotonic() + deadline_s
    while (value := what()) != expected and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
    return value


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, FakeLLMServer]]:
    """A gateway in this process (no master key in its config) in front of a fake provider."""
    from llmops_nb.gateway import load

    monkeypatch.setenv("FAKE_OPENAI_KEY", OPENAI_KEY)
    with FakeLLMServer() as fake:
        params = {"model": "openai/gpt-4o-mini", "api_base": fake.openai_base_url,
                  "api_key": "os.environ/FAKE_OPENAI_KEY"}
        gw = load({"model_list": [{"model_name": "chat", "litellm_params": params}]})
        try:
            yield gw, fake
        finally:
            gw.close()


def test_serve_in_process_starts_answers_and_stops_without_leaking_threads_or_sockets(
        in_process: tuple[Any, FakeLLMServer]) -> None:
    from llmops_nb.gateway import GatewayConfigError

    gw, _ = in_process

    def cycle() -> Any:
        with gw.serve() as server:
            assert server.master_key.startswith("sk-master-")  # made for this process: no key in the config
            assert server.master_key not in repr(server)
            with openai.OpenAI(base_url=server.openai_base_url, api_key=server.master_key, max_retries=0) as client:
                assert client.chat.completions.create(model="chat", messages=HELLO).choices[0].message.content
            with openai.OpenAI(base_url=server.openai_base_url, api_key="sk-guess", max_retries=0) as client, \
                    pytest.raises(openai.AuthenticationError):
                client.models.list()
        assert not server.running
        return server

    cycle()  # the first one starts what lives on (the store's writer)
    gc.collect()
    sockets = _sockets()
    server = cycle()
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("llmops_nb-gateway")]
    assert _settles(_sockets, sockets) == sockets  # the fake's side of a connection closes a moment later
    with httpx.Client() as http, pytest.raises(httpx.ConnectError):
        http.get(server.url + "/health")
    with pytest.raises(GatewayConfigError, match="allow_remote"):
        gw.serve(host="0.0.0.0")
    with pytest.raises(GatewayConfigError, match="master_key"):
        gw.serve(host="0.0.0.0", allow_remote=True)


def test_a_bound_key_is_attributed_to_its_user_whatever_the_request_claims(
        in_process: tuple[Any, FakeLLMServer]) -> None:
    import llmops_nb

    gw, _ = in_process
    with gw.serve() as server:
        with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {server.master_key}"}) as http:
            key = http.post("/key/generate", json={"user_id": "alice", "team_id": "ml"}).json()["key"]
        claims = {"x-llmops-user": "bob", "x-llmops-team": "other", "x-llmops-project": "search"}
        with openai.OpenAI(base_url=server.openai_base_url, api_key=key, max_retries=0,
                           default_headers=claims) as client:
            client.chat.completions.create(model="chat", messages=HELLO, user="mallory")
        with openai.OpenAI(base_url=server.openai_base_url, api_key=server.master_key, max_retries=0,
                           default_headers=claims) as client:  # the owner may say whom a request is for
            client.chat.completions.create(model="chat", messages=HELLO)
    llmops_nb.flush()
    seen = []
    for trace_id in llmops_nb.traces(name="gateway chat").trace_id:
        attributes = llmops_nb.spans(trace_id).attributes.iloc[0]
        seen.append(tuple(attributes.get(name) for name in ("user.id", "gateway.team", "gateway.project")))
    assert sorted(seen) == [("alice", "ml", "search"), ("bob", "other", "search")]
