"""Record and replay (llmops_nb.replay) with the real SDKs against the local fake server.

Every replay runs with the fake server closed (nothing listens on its port), so an answer can
only come from the recording; the SDKs are the installed ones, unpatched except for the
transport methods replay itself wraps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fakes.llm_server import FakeLLMServer, Reply
from support import subprocess_env

import llmops_nb
from llmops_nb import replay
from llmops_nb.replay import RecordingError

KEY = "sk-proj-" + "Zq7" * 12  # shaped like a real key: must never be stored
HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture(autouse=True)
def _replay_off() -> Iterator[None]:
    yield
    replay.stop()
    llmops_nb.autolog(disable=True)


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as fake:
        yield fake


def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def dump(value: Any) -> Any:
    return value.model_dump() if hasattr(value, "model_dump") else value


def openai_calls(client: openai.OpenAI) -> list[Any]:
    chat = client.chat.completions.create(model="gpt-4o", messages=HI, temperature=0)
    stream = [dump(c) for c in client.chat.completions.create(model="gpt-4o", messages=HI, stream=True,
                                                               stream_options={"include_usage": True})]
    response = client.responses.create(model="gpt-4o", input="Tell me a fact")
    response_events = [dump(e) for e in client.responses.create(model="gpt-4o", input="Stream a fact", stream=True)]
    embedding = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    return [dump(chat), stream, dump(response), response_events, dump(embedding)]


async def openai_async_calls(client: openai.AsyncOpenAI) -> list[Any]:
    chat = await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "async"}])
    stream = [dump(c) async for c in await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "async stream"}], stream=True)]
    return [dump(chat), stream]


def anthropic_calls(client: anthropic.Anthropic) -> list[Any]:
    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=HI)
    events = [dump(e) for e in client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=HI,
                                                       stream=True)]
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64,
                                messages=[{"role": "user", "content": "helper"}]) as stream:
        text = "".join(stream.text_stream)
    return [dump(message), events, text]


async def anthropic_async_calls(client: anthropic.AsyncAnthropic) -> list[Any]:
    message = await client.messages.create(model="claude-sonnet-4-5", max_tokens=64,
                                           messages=[{"role": "user", "content": "async"}])
    return [dump(message)]


def test_every_sdk_call_replays_identically_with_the_server_gone(server: FakeLLMServer, tmp_path: Path) -> None:
    llmops_nb.autolog()
    replay.start("record", recording="sdks")
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as oa, \
            anthropic.Anthropic(api_key=KEY, base_url=server.anthropic_base_url) as an:
        live = [openai_calls(oa), anthropic_calls(an)]

    async def both_async() -> list[Any]:
        async with openai.AsyncOpenAI(api_key=KEY, base_url=server.openai_base_url) as oa, \
                anthropic.AsyncAnthropic(api_key=KEY, base_url=server.anthropic_base_url) as an:
            return [await openai_async_calls(oa), await anthropic_async_calls(an)]

    live += asyncio.run(both_async())
    sent = len(server.requests)
    assert replay.flush()
    assert replay.status()["recorded"] == sent == 11
    file = replay.export(tmp_path / "sdks.llmops")
    port = server.port
    server.close()
    assert refused(port)

    replay.start("replay", file=file)
    with openai.OpenAI(api_key="sk-other", base_url=f"http://127.0.0.1:{port}/v1") as oa, \
            anthropic.Anthropic(api_key="sk-other", base_url=f"http://127.0.0.1:{port}") as an:
        again = [openai_calls(oa), anthropic_calls(an)]

    async def both_async_again() -> list[Any]:
        async with openai.AsyncOpenAI(api_key="x", base_url=f"http://127.0.0.1:{port}/v1") as oa, \
                anthropic.AsyncAnthropic(api_key="x", base_url=f"http://127.0.0.1:{port}") as an:
            return [await openai_async_calls(oa), await anthropic_async_calls(an)]

    again += asyncio.run(both_async_again())
    assert again == live
    assert replay.status().items() >= {"mode": "strict", "replayed": 11, "missed": 0, "repeated": 0}.items()

    assert llmops_nb.flush()
    marks = llmops_nb.sql("SELECT attributes->>'llmops_nb.replay' AS mark, count(*) AS n FROM spans "
                          "WHERE kind = 'CHAT_MODEL' GROUP BY mark ORDER BY mark")
    assert dict(zip(marks.mark, marks.n, strict=True)) == {"recorded": 10, "replayed": 10}  # embeddings: no span


def test_a_recorded_call_links_to_its_span_and_keeps_no_key(server: FakeLLMServer, tmp_path: Path) -> None:
    llmops_nb.autolog()
    replay.start("record", recording="keys")
    secret_prompt = [{"role": "user", "content": f"my key is {KEY}, keep it safe"}]
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
        client.chat.completions.create(model="gpt-4o", messages=secret_prompt)
    assert replay.flush() and llmops_nb.flush()
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"  # it did go out with the key
    row = llmops_nb.sql("SELECT c.request, c.headers, c.client, c.provider, c.model, s.name FROM recorded_calls c "
                        "JOIN spans s ON s.span_id = c.span_id")
    assert list(row.name) == ["openai.chat.completions.create"]
    assert "[redacted]" in row.request[0] and KEY not in row.request[0]
    assert row.client[0].startswith("OpenAI/Python")
    assert (row.provider[0], row.model[0]) == ("openai-compatible", "gpt-4o")
    assert "authorization" not in row.headers[0].lower()
    file = replay.export(tmp_path / "keys.llmops")
    assert KEY.encode() not in file.read_bytes()
    assert KEY not in json.dumps(llmops_nb.sql("SELECT * FROM recorded_calls").astype(str).to_dict())

    # The redacted request still matches: the key in the prompt is redacted on both sides.
    replay.start("strict", file=file)
    with openai.OpenAI(api_key="other", base_url=server.openai_base_url) as client:
        client.chat.completions.create(model="gpt-4o", messages=secret_prompt)
    assert replay.status()["replayed"] == 1


def test_recorded_errors_replay_as_the_sdk_s_own_exceptions(server: FakeLLMServer) -> None:
    server.enqueue(Reply(status=429, error_message="Rate limit reached for gpt-4o", retry_after=0),
                   Reply(status=400, error_message="Invalid 'messages': empty"))
    replay.start("record", recording="errors")
    live = []
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url, max_retries=0) as client:
        for content in ("first", "second"):
            with pytest.raises(openai.APIStatusError) as info:
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": content}])
            live.append((type(info.value), info.value.status_code, str(info.value)))
    assert replay.flush()
    replay.start("strict", recording="errors")
    server.close()
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url, max_retries=0) as client:
        for content, (kind, status, text) in zip(("first", "second"), live, strict=True):
            with pytest.raises(kind) as info:
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": content}])
            assert (info.value.status_code, str(info.value)) == (status, text)
    assert [k.__name__ for k, _, _ in live] == ["RateLimitError", "BadRequestError"]


def test_an_unrecorded_call_in_strict_mode_names_it_and_the_nearest_with_a_diff(server: FakeLLMServer) -> None:
    llmops_nb.autolog()
    replay.start("record", recording="strict")
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "What is 2+2?"}])
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Name a colour"}])
        assert replay.flush()
        replay.start("strict", recording="strict")
        server.close()
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "What is 3+3?"}])
    message = str(info.value)
    assert "no recorded call matches POST /v1/chat/completions in recording 'strict' (2 calls)" in message
    assert '-   "content": "What is 2+2?",' in message and '+   "content": "What is 3+3?",' in message
    assert "%llm_replay fallthrough" in message
    assert replay.status()["missed"] == 1
    assert llmops_nb.flush()
    marks = llmops_nb.sql("SELECT attributes->>'llmops_nb.replay' AS mark FROM spans ORDER BY start_ns")
    assert list(marks.mark) == ["recorded", "recorded", "missed"]


def test_fallthrough_answers_what_was_recorded_and_records_the_rest(server: FakeLLMServer) -> None:
    replay.start("record", recording="mixed")
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
        first = client.chat.completions.create(model="gpt-4o", messages=HI)
        assert replay.flush()
        replay.start("fallthrough", recording="mixed")
        sent = len(server.requests)
        assert client.chat.completions.create(model="gpt-4o", messages=HI) == first
        assert len(server.requests) == sent  # answered from the recording
        new = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "new"}])
        assert len(server.requests) == sent + 1  # sent, and recorded
        assert client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "new"}]) == new
        assert len(server.requests) == sent + 1  # the repeat is answered from what was just recorded
    assert replay.flush()
    assert replay.status().items() >= {"replayed": 2, "passed_through": 1, "recorded": 1, "repeated": 1}.items()
    assert len(llmops_nb.sql("SELECT * FROM recorded_calls WHERE recording = 'mixed'")) == 2


def test_equal_requests_replay_in_recorded_order_then_the_last_repeats(server: FakeLLMServer) -> None:
    server.enqueue("one", "two")
    replay.start("record", recording="loop")
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
        live = [client.chat.completions.create(model="gpt-4o", messages=HI).choices[0].message.content
                for _ in range(2)]
        assert replay.flush()
        replay.start("strict", recording="loop")
        server.close()
        again = [client.chat.completions.create(model="gpt-4o", messages=HI).choices[0].message.content
                 for _ in range(3)]
    assert live == ["one", "two"] and again == ["one", "two", "two"]
    assert replay.status()["repeated"] == 1


def test_non_deterministic_parts_are_left_out_of_the_match(server: FakeLLMServer) -> None:
    replay.start("record", recording="ignore", ignore_keys=["user", "metadata", "seed"])
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
        def ask(when: str, request_id: str, seed: int) -> str | None:
            reply = client.chat.completions.create(
                model="gpt-4o", seed=seed, user=f"user-{seed}",
                messages=[{"role": "user", "content": f"It is {when}; request {request_id}. Hi"}])
            return reply.choices[0].message.content

        live = ask("2026-12-06T08:00:00Z", "0b6e3f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b", 1)
        assert replay.flush()
        replay.start("strict", recording="ignore", ignore_keys=["user", "metadata", "seed"])
        server.close()
        assert ask("2027-01-31 23:59:59+01:00", "ffffffff-1c2d-4e5f-8a9b-0c1d2e3f4a5b", 2) == live
        with pytest.raises(openai.BadRequestError, match="no recorded call matches"):
            ask("2027-01-31 23:59:59+01:00", "not a uuid", 2)  # the text around the masks still counts
    with pytest.raises(ValueError, match="not a valid regular expression"):
        replay.start("strict", ignore_patterns=["(unclosed"])
    with pytest.raises(TypeError, match="list of strings"):
        replay.start("strict", ignore_keys="seed")  # type: ignore[arg-type]


def test_large_responses_and_streams_left_early(server: FakeLLMServer, tmp_path: Path) -> None:
    big = "word " * 1_000_000  # 5 MB of text
    server.enqueue(Reply(text=big), Reply(text="a b c d e f g h"))
    replay.start("record", recording="sizes")
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
        assert client.chat.completions.create(model="gpt-4o", messages=HI).choices[0].message.content == big
        stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "s"}],
                                                stream=True)
        first = [dump(next(iter(stream))) for _ in range(2)]
        stream.close()  # the user stops reading after two chunks
        assert replay.flush()
        calls = llmops_nb.sql("SELECT complete, len(chunks) AS n FROM recorded_calls ORDER BY started_ns")
        assert list(calls.complete) == [True, False]
        file = replay.export(tmp_path / "sizes.llmops")
        replay.start("strict", file=file)
        server.close()
        assert client.chat.completions.create(model="gpt-4o", messages=HI).choices[0].message.content == big
        stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "s"}],
                                                stream=True)
        assert [dump(next(iter(stream))) for _ in range(2)] == first
        stream.close()


def test_bad_recording_files_explain_themselves(server: FakeLLMServer, tmp_path: Path) -> None:
    replay.start("record", recording="files")
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
        client.chat.completions.create(model="gpt-4o", messages=HI)
    good = replay.export(tmp_path / "good.llmops")
    truncated = tmp_path / "truncated.llmops"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.llmops"
    garbage.write_bytes(b"\x00not parquet at all" * 100)
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), foreign)
    cases = {tmp_path / "missing.llmops": "No recording at", truncated: "truncated or corrupted",
             garbage: "truncated or corrupted", foreign: "not an llmops_nb recording"}
    for path, expected in cases.items():
        with pytest.raises(RecordingError, match=expected):
            replay.start("strict", file=path)
        assert replay.mode() == "record"  # a bad file changes nothing
    with pytest.raises(ValueError, match="Unknown replay mode 'replya'"):
        replay.start("replya")
    with pytest.raises(ValueError, match="record writes to the store"):
        replay.start("record", file=good)
    with pytest.raises(ValueError, match="no recorded calls for recording 'nothing'"):
        replay.export(tmp_path / "empty.llmops", recording="nothing")


def test_a_recording_from_another_sdk_version_is_named(server: FakeLLMServer, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    replay.start("record", recording="old")
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
        client.chat.completions.create(model="gpt-4o", messages=HI)
    file = replay.export(tmp_path / "old.llmops")
    table = pq.read_table(file)
    meta = dict(table.schema.metadata)
    meta[b"packages"] = json.dumps({"openai": "1.2.3"}).encode()
    pq.write_table(table.replace_schema_metadata(meta), file)
    with caplog.at_level(logging.WARNING, logger="llmops_nb.replay"):
        replay.start("strict", file=file)
    assert f"{file} was recorded with openai 1.2.3; this kernel has openai {openai.__version__}" in caplog.text


def test_import_copies_a_file_into_the_store_under_a_name(server: FakeLLMServer, tmp_path: Path) -> None:
    replay.start("record", recording="portable")
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
        live = client.chat.completions.create(model="gpt-4o", messages=HI)
    file = replay.export(tmp_path / "portable.llmops")
    assert replay.import_(file, recording="copied") == 1
    recordings = replay.recordings()
    assert set(recordings.recording) == {"portable", "copied"}
    assert list(recordings.calls) == [1, 1] and recordings.response_bytes[0] > 100
    assert replay.delete("portable") == 1
    replay.start("strict", recording="copied")
    server.close()
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
        assert client.chat.completions.create(model="gpt-4o", messages=HI) == live


def test_configure_and_the_environment_turn_it_on(server: FakeLLMServer, tmp_path: Path, store_path: Path) -> None:
    llmops_nb.configure(replay="record", recording="configured")
    assert replay.mode() == "record"
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
        live = client.chat.completions.create(model="gpt-4o", messages=HI).choices[0].message.content
    file = replay.export(tmp_path / "configured.llmops")
    with pytest.raises(ValueError, match="Unknown replay mode"):
        llmops_nb.configure(replay="sometimes")
    assert replay.mode() == "record"
    llmops_nb.configure(replay="off")
    assert llmops_nb.status()["replay"]["mode"] == "off"
    server.close()

    code = ("import openai, llmops_nb\n"
            f"c = openai.OpenAI(api_key='x', base_url={server.openai_base_url!r})\n"
            "print(c.chat.completions.create(model='gpt-4o', messages=[{'role': 'user', 'content': 'Hi'}])"
            ".choices[0].message.content)\n"
            "print(llmops_nb.status()['replay']['replayed'])\n")
    env = subprocess_env(store_path.with_name("child.duckdb")) | {"LLMOPS_NB_REPLAY": "replay",
                                                                    "LLMOPS_NB_REPLAY_FILE": str(file)}
    done = subprocess.run([sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [live, "1"]
    env["LLMOPS_NB_REPLAY"] = "always"
    done = subprocess.run([sys.executable, "-c", "import llmops_nb"], check=False, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "LLMOPS_NB_REPLAY='always': Unknown replay mode" in done.stderr


def test_judges_rescore_from_the_recording_without_calling_the_model(server: FakeLLMServer) -> None:
    from llmops_nb.evals import evaluate, make_judge
    from llmops_nb.models._model import forget_models

    server.enqueue(*['{"rationale": "polite enough", "result": "yes"}'] * 3)
    judge = make_judge("polite", "Is this polite? {{ outputs }}",
                       model=f"openai:/judge-model?base_url={server.openai_base_url}&max_retries=0")
    rows = [{"inputs": {"q": q}} for q in ("a", "b", "c")]
    replay.start("record", recording="judges")
    first = evaluate(rows, predict_fn=lambda q: f"answer to {q}", scorers=[judge], name="live")
    assert replay.flush()
    sent = len(server.requests)
    replay.start("strict", recording="judges")
    server.close()
    forget_models()
    again = evaluate(rows, predict_fn=lambda q: f"answer to {q}", scorers=[judge], name="replayed")
    assert sent == 3 and list(again["polite/value"]) == list(first["polite/value"]) == [True] * 3
    assert list(again["polite/rationale"]) == ["polite enough"] * 3
    forget_models()


def test_the_magic(server: FakeLLMServer, tmp_path: Path) -> None:
    from IPython.core.error import UsageError
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    llmops_nb.load_ipython_extension(ip)
    ip.run_line_magic("llm_replay", "record --recording magic")
    with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
        client.chat.completions.create(model="gpt-4o", messages=HI)
    file = tmp_path / "magic.llmops"
    ip.run_line_magic("llm_replay", f"export '{file}'")
    assert ip.run_line_magic("llm_replay", "status")["recorded"] == 1
    ip.run_line_magic("llm_replay", f"replay --file '{file}'")
    assert replay.mode() == "strict" and replay.status()["recorded_calls_available"] == 1
    for bad, expected in [("sometimes", "Unknown replay mode"), ("replay --file", "got '--file'"),
                          ("record --colour red", "got '--colour'"), ("export", "one path"),
                          (f"replay --file '{tmp_path / 'nope.llmops'}'", "No recording at")]:
        with pytest.raises(UsageError, match=expected):
            ip.run_line_magic("llm_replay", bad)
    ip.run_line_magic("llm_replay", "off")
    assert replay.mode() == "off"


def test_python_m_llmops_nb_run_records_replays_and_compares_a_notebook(server: FakeLLMServer,
                                                                        tmp_path: Path) -> None:
    import nbformat

    def notebook(question: str, extra: str = "") -> Path:
        path = tmp_path / "story.ipynb"
        cells = ["import openai\n"
                 f"client = openai.OpenAI(api_key='sk-test', base_url={server.openai_base_url!r})",
                 f"reply = client.chat.completions.create(model='gpt-4o', messages=[{{'role': 'user', "
                 f"'content': {question!r}}}])\nprint(reply.choices[0].message.content{extra})",
                 "import time\nprint(f'took {time.perf_counter()} s')  # masked: a duration"]
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells]), path)
        return path

    server.enqueue("A story about a fox.")
    path, file = notebook("Tell me a story"), tmp_path / "story.llmops"
    env = subprocess_env(tmp_path / "unused.duckdb")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "llmops_nb", "run", str(path), *args], check=False, env=env,
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)

    done = run("--record", str(file))
    assert done.returncode == 0, done.stderr
    assert "recorded into" in done.stdout and len(server.requests) == 1
    server.close()

    done = run("--replay", str(file), "-o", str(tmp_path / "out.ipynb"))
    assert done.returncode == 0, done.stderr
    assert "outputs as recorded" in done.stdout
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[1].outputs[0]["text"] == "A story about a fox.\n"

    notebook("Tell me a story", extra=".upper()")
    done = run("--replay", str(file))
    assert done.returncode == 1
    assert "code cell 1 (first line `reply = client.chat" in done.stderr
    assert "-[stdout] A story about a fox." in done.stderr and "+[stdout] A STORY ABOUT A FOX." in done.stderr

    notebook("Tell me a joke")
    done = run("--replay", str(file))
    assert done.returncode == 1
    assert "no recorded call matches POST /v1/chat/completions" in done.stderr
    assert '+   "content": "Tell me a joke",' in done.stderr


def test_compressed_bodies_are_stored_decompressed_and_redacted() -> None:
    import gzip

    from llmops_nb.replay._wire import stored_body

    body = json.dumps({"choices": [{"message": {"content": f"your key {KEY} is safe"}}]}).encode()
    packed = gzip.compress(body)
    headers = (("content-type", "application/json"), ("content-encoding", "gzip"), ("content-length", "99"))
    chunks, kept = stored_body([packed[:10], packed[10:]], headers)
    assert kept == (("content-type", "application/json"),)
    assert len(chunks) == 1 and KEY.encode() not in chunks[0] and b"your key [redacted] is safe" in chunks[0]
    plain = [b'{"a": ', b'"no secret here"}']
    assert stored_body(plain, (("content-length", "23"),)) == (tuple(plain), (("content-length", "23"),))
    unknown = (("content-encoding", "x-custom"),)
    assert stored_body([b"\x01\x02"], unknown) == ((b"\x01\x02",), unknown)  # kept as received, logged once


@pytest.mark.file_store
def test_a_store_that_refuses_recordings_is_counted_not_silent(server: FakeLLMServer, store_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    from store_faults import held

    llmops_nb.sql("SELECT 1")  # the file exists and is migrated
    from llmops_nb.store._connection import close_all

    close_all()
    before = replay.status()
    llmops_nb.configure(lock_timeout=0.2)
    try:
        with held(store_path, 8):
            replay.start("record", recording="refused")
            with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
                reply = client.chat.completions.create(model="gpt-4o", messages=HI)
            assert reply.choices[0].message.content  # the user's call is unaffected
            assert replay.flush(timeout=30)
    finally:
        llmops_nb.configure(lock_timeout=60.0)
    info = llmops_nb.status()["replay"]
    assert info["record_failures"] - before["record_failures"] == 1 and info["written"] == before["written"]
    assert info["last_error"]
    assert "1 recorded LLM calls could not be written to the store" in caplog.text


@pytest.mark.local_model
def test_the_offline_model_replays_without_its_server(tmp_path: Path) -> None:
    from llmops_nb.local_model import local_server
    from llmops_nb.models import forget_models, get_model

    replay.start("record", recording="local")
    live = get_model("local:/smollm2").chat("Name a colour", max_tokens=8).text
    file = replay.export(tmp_path / "local.llmops")
    forget_models()
    replay.start("strict", file=file)
    stand_in = local_server()
    assert stand_in.pid is None and "answers come from the recording" in repr(stand_in)
    assert get_model("local:/smollm2").chat("Name a colour", max_tokens=8).text == live
    assert replay.status()["replayed"] == 1
    forget_models()


def test_a_span_of_another_tracer_being_current_changes_nothing(server: FakeLLMServer) -> None:
    # Seen in the full suite: an OpenTelemetry span current in our context (a ForeignParent, which
    # has no kind) made the call go out unrecorded.
    from opentelemetry.sdk.trace import TracerProvider

    from llmops_nb.otel._context import ForeignParent
    from llmops_nb.tracing._context import current_span

    replay.start("record", recording="foreign")
    with TracerProvider().get_tracer("app").start_as_current_span("outer") as outer:
        token = current_span.set(ForeignParent(outer))
        try:
            with openai.OpenAI(api_key=KEY, base_url=server.openai_base_url) as client:
                client.chat.completions.create(model="gpt-4o", messages=HI)
        finally:
            current_span.reset(token)
    assert replay.flush() and replay.status()["recorded"] == 1
    assert "replay.request" not in llmops_nb.status()["internal_failures"]
