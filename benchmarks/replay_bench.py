"""Replay latency per call: ``llmops_nb.replay`` against vcrpy, on a ~2 KB chat completion.

    python -m benchmarks.replay_bench [--quick] [--rounds N]   # this section alone
    python -m benchmarks --only replay_bench                   # the same, from the suite

One request, recorded once in this run against ``tests/fakes``' :class:`FakeLLMServer`
(in its own process, answering a chat completion whose JSON body is ~2 KB), then
answered from the recording over and over. Each contender runs in its own process:

- **llmops_nb, httpx**: ``llmops_nb.replay.start("strict", file=...)`` (the file exported
  from the recording), a plain ``httpx.Client`` POSTing to ``/v1/chat/completions``;
- **vcrpy, httpx**: the same exchange, recorded to a cassette and replayed with
  ``record_mode="none"`` (``allow_playback_repeats=True``), vcrpy's default matchers
  (method and URL); and the same with ``"body"`` added to ``match_on``, since llmops_nb
  always matches on the (normalized) body;
- **llmops_nb, openai SDK** and **vcrpy, openai SDK**: ``openai.OpenAI(...).chat.completions.create``
  (openai 3 sends through httpx2; both patch it);
- **client floor**, httpx and openai SDK: the recorded bytes handed back by a ``MockTransport``
  (neither library patches it): what the client itself costs, so that a replay's p50 minus
  this is what the replay adds;
- **live, httpx**: the same POST answered by a live fake server on loopback (what a
  replay should beat).

Every replay points at the recording server's address after that server has been stopped
(its port refuses connections), so a call that got past the replay would fail. Each call is
timed alone (``perf_counter_ns``); the report gives medians over rounds of each round's p50
and p95, process CPU per call, and medians of per-round ratios to vcrpy. Rounds rotate the
order of the contenders. Target: llmops_nb ≤ 1 ms p50.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from array import array
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/replay_bench.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROOT, Worker, WorkerError, median, rotated
from benchmarks._report import Context, Section, Target, num, table

MODULE = "replay_bench"
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Summarize what record and replay of LLM calls is for."}]
PAYLOAD = {"model": MODEL, "messages": MESSAGES, "temperature": 0}
BODY_BYTES = 2048  # the size of the chat completion's JSON body the server answers
SENTENCE = ("Record and replay keeps a notebook's LLM calls as they were answered, so a re-run in CI "
            "needs no key and no network, and an evaluation can be scored again for free. ")
TARGET_US = 1000.0

# The fake server in its own process (its threads do not share our interpreter). Nagle off, as in
# loopback_bench.py: the fake writes headers and body separately, and the delayed ACK would add ~40 ms.
SERVER = r"""
import sys
sys.path.insert(0, sys.argv[1])
from tests.fakes import FakeLLMServer, Reply, Usage, llm_server
llm_server._Handler.disable_nagle_algorithm = True
server = FakeLLMServer()
server.enqueue(*[Reply(text=sys.argv[2], usage=Usage(120, 20))] * int(sys.argv[3]))
print(server.port, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
print(len(server.requests), flush=True)
server.close()
"""


def reply_text(body_bytes: int = BODY_BYTES) -> str:
    """Assistant text that makes the server's chat-completion body about ``body_bytes`` long."""
    from tests.fakes import Reply, Usage
    from tests.fakes._openai_wire import chat

    empty = chat(Reply(text=""), Usage(120, 20), {"model": MODEL}, 1).body
    room = body_bytes - len(json.dumps(empty).encode())
    return (SENTENCE * (room // len(SENTENCE) + 1))[:room].rstrip()


# -- contenders (each built inside its own worker process) -------------------------------------


class _Contender:
    """record(url) once with the server up, replay(url) after it stopped, then measure(calls) per round."""

    client = "httpx"
    tolerance = 0  # bytes the answer's size may differ from the recorded one (0: replayed, identical)

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.expected = -1

    # the request, through one client or the other; returns the size of what came back
    def _connect(self, base_url: str) -> None:
        if self.client == "httpx":
            import httpx

            self.http = httpx.Client(timeout=10)
            self.url = base_url + "/chat/completions"
        else:
            import openai

            # max_retries=0: a call the replay missed fails at once instead of being retried
            self.sdk = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0, timeout=10)

    def _call(self) -> int:
        if self.client == "httpx":
            response = self.http.post(self.url, json=PAYLOAD, headers={"authorization": "Bearer sk-test"})
            return len(response.content) if response.status_code == 200 else -response.status_code
        completion = self.sdk.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=0)  # type: ignore[arg-type]
        return len(completion.choices[0].message.content or "")

    # the driver's operations
    def record(self, base_url: str) -> dict[str, Any]:
        self._connect(base_url)
        self._record()
        return {"size": self.expected}

    def replay(self, base_url: str, warmup: int) -> dict[str, Any]:
        self._connect(base_url)  # a fresh client, as a re-run has
        self._start()
        for _ in range(warmup):
            self._check(self._call())
        return {"size": self.expected}

    def measure(self, calls: int) -> dict[str, Any]:
        latencies = array("q", bytes(8 * calls))
        sizes = array("q", bytes(8 * calls))
        clock, call = time.perf_counter_ns, self._call
        evidence = self._evidence()
        cpu_started = time.process_time()
        for index in range(calls):
            started = clock()
            sizes[index] = call()
            latencies[index] = clock() - started
        cpu = time.process_time() - cpu_started
        for size in set(sizes):
            self._check(size)
        ordered = sorted(latencies)
        after = self._evidence()
        return {"p50_us": ordered[calls // 2] / 1e3, "p95_us": ordered[int(calls * 0.95)] / 1e3,
                "cpu_us": cpu / calls * 1e6, "max_us": ordered[-1] / 1e3,
                **{key: after[key] - evidence[key] for key in after}}

    def _check(self, size: int) -> None:
        if size < 0 or abs(size - self.expected) > self.tolerance:
            raise RuntimeError(f"unexpected answer: {'HTTP ' + str(-size) if size < 0 else f'{size} bytes'}, "
                               f"expected {self.expected} bytes")

    # what differs: how the answer is recorded and replayed
    def _record(self) -> None:
        raise NotImplementedError

    def _start(self) -> None:
        raise NotImplementedError

    def _evidence(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        pass


class _LlmopsNb(_Contender):
    def _record(self) -> None:
        import llmops_nb

        llmops_nb.configure(db=str(self.workdir / "replay.duckdb"))
        llmops_nb.replay.start("record", recording="bench")
        self.expected = self._call()
        if not llmops_nb.replay.flush():
            raise RuntimeError("llmops_nb.replay.flush() timed out")
        self.file = llmops_nb.replay.export(self.workdir / "bench.llmops", recording="bench")
        llmops_nb.replay.stop()

    def _start(self) -> None:
        import llmops_nb

        llmops_nb.replay.start("strict", file=self.file)

    def _evidence(self) -> dict[str, int]:
        import llmops_nb

        status = llmops_nb.replay.status()
        return {"replayed": status["replayed"], "missed": status["missed"]}

    def close(self) -> None:
        import llmops_nb

        llmops_nb.replay.stop()


class _Vcrpy(_Contender):
    match_on: tuple[str, ...] | None = None  # None: vcrpy's default (method, scheme, host, port, path, query)

    def _vcr(self, record_mode: str) -> Any:
        import vcr

        options: dict[str, Any] = {"record_mode": record_mode}
        if self.match_on is not None:
            options["match_on"] = self.match_on
        return vcr.VCR(**options)

    def _record(self) -> None:
        self.cassette_path = str(self.workdir / "bench.yaml")
        with self._vcr("once").use_cassette(self.cassette_path) as cassette:
            self.expected = self._call()
            if len(cassette) != 1:
                raise RuntimeError(f"vcrpy recorded {len(cassette)} interactions, expected 1 (did it patch?)")

    def _start(self) -> None:
        self._context = self._vcr("none").use_cassette(self.cassette_path, allow_playback_repeats=True)
        self.cassette = self._context.__enter__()

    def _evidence(self) -> dict[str, int]:
        return {"replayed": self.cassette.play_count}

    def close(self) -> None:
        context = getattr(self, "_context", None)
        if context is not None:
            context.__exit__(None, None, None)


class LlmopsHttpx(_LlmopsNb):
    pass


class LlmopsSdk(_LlmopsNb):
    client = "openai"


class VcrpyHttpx(_Vcrpy):
    pass


class VcrpyHttpxBody(_Vcrpy):
    match_on = ("method", "scheme", "host", "port", "path", "query", "body")


class VcrpySdk(_Vcrpy):
    client = "openai"


class LiveHttpx(_Contender):
    tolerance = 16  # the fake's id and timestamp grow a digit now and then

    def _record(self) -> None:
        pass

    def _start(self) -> None:
        self.expected = self._call()


class _Floor(_Contender):
    """The client's own cost: the recorded bytes handed back by a ``MockTransport``, no replay, no socket."""

    def record(self, base_url: str) -> dict[str, Any]:
        import httpx

        with httpx.Client(timeout=10) as http:
            response = http.post(base_url + "/chat/completions", json=PAYLOAD)
        response.raise_for_status()
        self.answer = (response.status_code, list(response.headers.multi_items()), response.content)
        self.expected = (len(response.content) if self.client == "httpx"
                         else len(json.loads(response.content)["choices"][0]["message"]["content"]))
        return {"size": self.expected}

    def _connect(self, base_url: str) -> None:
        import importlib

        library = importlib.import_module("httpx" if self.client == "httpx" else "httpx2")  # openai 3: httpx2
        status, headers, content = self.answer

        def answer(request: Any) -> Any:
            request.read()
            return library.Response(status, headers=headers, content=content)

        http = library.Client(transport=library.MockTransport(answer), timeout=10)
        if self.client == "httpx":
            self.http, self.url = http, base_url + "/chat/completions"
        else:
            import openai

            self.sdk = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0, http_client=http)

    def _start(self) -> None:
        pass


class FloorHttpx(_Floor):
    pass


class FloorSdk(_Floor):
    client = "openai"


CONTENDERS: dict[str, type[_Contender]] = {
    "llmops_httpx": LlmopsHttpx, "vcrpy_httpx": VcrpyHttpx, "vcrpy_httpx_body": VcrpyHttpxBody,
    "floor_httpx": FloorHttpx, "llmops_sdk": LlmopsSdk, "vcrpy_sdk": VcrpySdk, "floor_sdk": FloorSdk,
    "live_httpx": LiveHttpx,
}
LABELS = {
    "llmops_httpx": "llmops_nb replay, `httpx.Client`",
    "vcrpy_httpx": "vcrpy replay, `httpx.Client`",
    "vcrpy_httpx_body": "vcrpy replay, `httpx.Client`, `match_on` + body",
    "floor_httpx": "client floor: `httpx.Client` on a `MockTransport` (no replay)",
    "llmops_sdk": "llmops_nb replay, openai SDK",
    "vcrpy_sdk": "vcrpy replay, openai SDK",
    "floor_sdk": "client floor: openai SDK on an httpx2 `MockTransport` (no replay)",
    "live_httpx": "live call to the fake server (loopback), `httpx.Client`",
}
REFERENCE = "vcrpy_httpx"
SAME_CLIENT_REFERENCE = {name: "vcrpy_sdk" if CONTENDERS[name].client == "openai" else REFERENCE
                         for name in CONTENDERS}
FLOOR = {name: "floor_sdk" if CONTENDERS[name].client == "openai" else "floor_httpx" for name in CONTENDERS}


# -- the driver ---------------------------------------------------------------------------------


class _Server:
    """The fake server in its own process; stop() returns how many requests it received."""

    def __init__(self, text: str, replies: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, str(ROOT), text, str(replies)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.served: int | None = None

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.close()
            try:
                self.served = int(self.proc.stdout.readline())
                self.proc.wait(10)
            except (ValueError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        return self.served

    def refuses_connections(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return True
        return False


def _reason(error: BaseException | str) -> str:
    """The last line of a worker's traceback: what went wrong, in one line."""
    text = str(error).split("\n--- worker log", 1)[0].strip()
    return text.splitlines()[-1].strip() if text else "failed"


def _versions() -> dict[str, str]:
    from importlib import metadata

    found = {}
    for name in ("httpx", "httpx2", "openai", "vcrpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def run(ctx: Context) -> Section:
    rounds = ctx.pick_rounds(full=5, quick=2)
    calls = 500 if ctx.quick else 2000
    warmup = 100 if ctx.quick else 300
    text = reply_text()
    env = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}  # base_env points proxies nowhere
    workers: dict[str, Worker] = {}
    failed: dict[str, str] = {}
    sizes: dict[str, int] = {}
    results: list[dict[str, dict[str, Any]]] = []

    def drop(name: str, error: BaseException | str) -> None:
        failed[name] = _reason(error)
        ctx.log(f"replay: {name} dropped: {failed[name]}")
        worker = workers.pop(name, None)
        if worker is not None:
            worker.kill()
            worker.close()

    recorder = _Server(text, replies=len(CONTENDERS) * 2)
    live: _Server | None = None
    stopped, recorded_requests = False, None
    try:
        for name in CONTENDERS:
            try:
                workers[name] = Worker(MODULE, name, ctx.workdir, env=env, timeout=120)
            except WorkerError as exc:
                failed[name] = _reason(exc)
                continue
            if "error" in workers[name].ready:  # the contender could not even be built (not installed)
                drop(name, workers[name].ready["error"])
        for name in list(workers):
            try:
                sizes[name] = workers[name].call("record", base_url=recorder.base_url, timeout=120)["size"]
            except WorkerError as exc:
                drop(name, exc)
        # The live server starts while the recording one still listens, so it cannot get the same port.
        live = _Server(text, replies=warmup + rounds * calls + 10)
        recorded_requests = recorder.stop()
        stopped = recorder.refuses_connections()
        ctx.log(f"replay: recorded {recorded_requests} calls; recording server stopped "
                f"({'port refuses connections' if stopped else 'PORT STILL ANSWERS'})")
        for name in list(workers):
            url = live.base_url if name == "live_httpx" else recorder.base_url
            try:
                sizes[name] = workers[name].call("replay", base_url=url, warmup=warmup, timeout=300)["size"]
            except WorkerError as exc:
                drop(name, exc)
        for index in range(rounds):
            result: dict[str, dict[str, Any]] = {}
            for name in rotated(list(workers), index):
                try:
                    result[name] = workers[name].call("measure", calls=calls, timeout=600)
                except WorkerError as exc:
                    drop(name, exc)
                    continue
                replayed = result[name].get("replayed")
                if (replayed is not None and replayed != calls) or result[name].get("missed"):
                    drop(name, f"{replayed} of {calls} calls replayed, {result[name].get('missed', 0)} missed")
                    del result[name]
            results.append(result)
            ctx.log(f"replay: round {index + 1}/{rounds}: " + ", ".join(
                f"{name} p50 {r['p50_us']:.0f} µs" for name, r in result.items()))
    finally:
        for worker in workers.values():
            worker.close()
        recorder.stop()
        live_requests = live.stop() if live is not None else None
    return _section(results, failed, sizes, calls, warmup, stopped, recorded_requests, live_requests)


def _ratio(results: list[dict[str, dict[str, Any]]], name: str, reference: str, key: str) -> float:
    return median(r[name][key] / r[reference][key] for r in results if name in r and reference in r)


def _times(value: float) -> str:
    text = num(value)
    return text if text == "–" else text + "×"


def _over(results: list[dict[str, dict[str, Any]]], name: str, reference: str, key: str) -> float:
    return median(r[name][key] - r[reference][key] for r in results if name in r and reference in r)


def _section(results: list[dict[str, dict[str, Any]]], failed: dict[str, str], sizes: dict[str, int], calls: int,
             warmup: int, stopped: bool, recorded_requests: int | None, live_requests: int | None) -> Section:
    rows = []
    summary: dict[str, dict[str, float]] = {}
    for name in CONTENDERS:
        if name in failed or not any(name in r for r in results):
            rows.append([LABELS[name], f"could not run: {failed.get(name, 'no result')}", *["–"] * 6])
            continue
        values = {key: median(r[name][key] for r in results if name in r)
                  for key in ("p50_us", "p95_us", "cpu_us")}
        values["p50_vs_vcrpy"] = _ratio(results, name, REFERENCE, "p50_us")
        values["p95_vs_vcrpy"] = _ratio(results, name, REFERENCE, "p95_us")
        values["p50_vs_same_client"] = _ratio(results, name, SAME_CLIENT_REFERENCE[name], "p50_us")
        values["p50_over_floor"] = _over(results, name, FLOOR[name], "p50_us")
        summary[name] = values
        rows.append([LABELS[name], num(values["p50_us"]), num(values["p95_us"]), num(values["cpu_us"]),
                     _times(values["p50_vs_vcrpy"]), _times(values["p95_vs_vcrpy"]),
                     _times(values["p50_vs_same_client"]),
                     "–" if name.startswith("floor") else num(values["p50_over_floor"])])
    body = table(["Contender", "p50 (µs)", "p95 (µs)", "CPU µs / call", "p50 ÷ vcrpy (httpx)", "p95 ÷ vcrpy (httpx)",
                  "p50 ÷ vcrpy, same client", "p50 over client floor (µs)"], rows)
    versions = _versions()
    size = sizes.get("llmops_httpx") or sizes.get("vcrpy_httpx") or sizes.get("live_httpx")
    rounds = f"{len(results)} round" + ("s" if len(results) != 1 else "")
    body += (f"\n\nOne chat completion of {size} bytes of JSON (the openai SDK rows: "
             f"{sizes.get('llmops_sdk', '–')} characters of assistant text), recorded once in this run and "
             f"answered {calls:,} times per round after {warmup} warm-up calls, {rounds}; each call "
             "timed alone, p50/p95 per round, medians over rounds; ratios are medians of per-round ratios "
             "(< 1: faster than vcrpy). Every replay pointed at the recording server after it was stopped "
             f"({'its port refused connections' if stopped else '**its port still answered**'}; it served "
             f"{recorded_requests} requests, the recordings); the live server served {live_requests} "
             f"(the live contender's calls). httpx {versions['httpx']}, httpx2 {versions['httpx2']}, "
             f"openai {versions['openai']} (sends through httpx2), vcrpy {versions['vcrpy']}.\n\n"
             "llmops_nb matches a call on method, path and the normalized body (JSON parsed, non-deterministic "
             "parts masked, redacted, hashed); vcrpy by default on method and URL only, hence the row with "
             "`body` added to `match_on`. The openai SDK rows include the SDK's own work (building the request, "
             "parsing the answer into its objects); compare them with each other. The client floors answer the "
             "recorded bytes from a `MockTransport` (which neither library patches): what the client costs with "
             "no replay and no socket, so \"over client floor\" (median of per-round differences of p50) is what "
             "the replay itself adds.")
    if failed:
        body += "\n\nCould not run: " + "; ".join(f"{LABELS[n]}: `{why}`" for n, why in failed.items()) + "."
    targets = []
    for name, what in (("llmops_httpx", "Replay p50 per call, `httpx.Client` (2 KB chat completion)"),
                       ("llmops_sdk", "Replay p50 per call, openai SDK, server stopped")):
        if name in summary:
            p50 = summary[name]["p50_us"]
            vcrpy = summary.get(SAME_CLIENT_REFERENCE[name])
            against = f" (vcrpy {num(vcrpy['p50_us'])} µs)" if vcrpy else " (vcrpy could not run)"
            targets.append(Target(what, "≤ 1 ms", f"{num(p50)} µs{against}", p50 <= TARGET_US))
        else:
            targets.append(Target(what, "≤ 1 ms", f"failed: {failed.get(name, 'no result')}", False))
    if "llmops_httpx" in summary and REFERENCE in summary:
        targets.append(Target("Replay vs vcrpy (`httpx.Client`)", "reported",
                              f"p50 {_times(summary['llmops_httpx']['p50_vs_vcrpy'])}, "
                              f"p95 {_times(summary['llmops_httpx']['p95_vs_vcrpy'])} vcrpy's", None))
    elif REFERENCE in failed:
        targets.append(Target("Replay vs vcrpy (`httpx.Client`)", "reported",
                              f"vcrpy could not run: {failed[REFERENCE]}", None))
    raw = {"rounds": results, "failed": failed, "sizes": sizes, "calls": calls, "warmup": warmup,
           "recording_server_stopped": stopped, "versions": versions}
    return Section("8. Replay latency per call (2 KB chat completion)", body, targets, raw)


def main(argv: list[str] | None = None) -> int:
    """This section alone, through the suite's runner (its options: --quick, --rounds, --output, --keep)."""
    from benchmarks.run import main as run_suite

    return run_suite(["--only", MODULE, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
