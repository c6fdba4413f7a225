"""The server processes of ``gateway_bench.py``: the fake upstream, our gateway's CLI, LiteLLM's Proxy; their configs.

Each runs as a child process of the driver with its output in a log file of the benchmark's
temporary directory; :class:`Server` stops it (SIGTERM, then SIGKILL) however the run ends.

LiteLLM's Proxy needs packages the ``litellm`` wheel does not bring (``backoff``, ``apscheduler``,
``uvloop``, ...), and its ``litellm[proxy]`` extra cannot be installed here: it pins
``litellm-proxy==<version>``, which the package index does not have. So the Proxy runs with an
overlay of just the modules it imports first on its ``PYTHONPATH`` (``$LITELLM_PROXY_OVERLAY``, default
``.venv/litellm-proxy-overlay``; ``OVERLAY_COMMAND`` makes it); without one it fails to start, and the
report says why.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._gateway_workers import BUDGET, OUTPUT_COST
from benchmarks._harness import ROOT, base_env

PROVIDER_KEY = "sk-bench-upstream"  # what the fake upstream is "called with"; it accepts any key
OVERLAY = Path(os.environ.get("LITELLM_PROXY_OVERLAY", ROOT / ".venv" / "litellm-proxy-overlay"))
_SHOWN = OVERLAY.relative_to(ROOT) if OVERLAY.is_relative_to(ROOT) else OVERLAY
OVERLAY_COMMAND = (f"pip install --no-deps --target {_SHOWN} backoff redis apscheduler tzlocal semver expression "
                   "fastapi-sso oauthlib email-validator dnspython soundfile uvloop")


class ServerError(RuntimeError):
    """A server process did not start; the message carries the tail of its log."""


def extra_env() -> dict[str, str]:
    """What every process of this benchmark adds to the harness's environment (where proxies point at a
    dead port, so nothing reaches the network): loopback reachable, LiteLLM kept offline and quiet."""
    return {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # else LiteLLM fetches its price map at import
            "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False", "BENCH_PROVIDER_KEY": PROVIDER_KEY}


def child_env(workdir: Path) -> dict[str, str]:
    return {**base_env(workdir), **extra_env()}


class Server:
    """One child process serving HTTP on 127.0.0.1; ``url`` once it is up."""

    def __init__(self, name: str, argv: list[str], workdir: Path, env: dict[str, str], cwd: Path | None = None,
                 *, read_stdout: bool = True) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        # stdout is piped only when its first line is read, and such a server prints nothing more (an
        # unread pipe that fills up would block the server)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE if read_stdout else self._log, stderr=self._log,
                                     text=True, env=env, cwd=cwd or workdir)
        self.url = ""

    def first_line(self, timeout: float) -> str:
        """The first line the process prints on stdout (its port or URL)."""
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise ServerError(self.failure(f"printed nothing within {timeout:g} s"))
        return line.strip()

    def wait_http(self, path: str, timeout: float) -> None:
        """Poll ``url + path`` until it answers 200 (or the process dies, or ``timeout``)."""
        deadline = time.monotonic() + timeout
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(self.failure(f"exited with code {self.proc.returncode}"))
            try:
                with opener.open(self.url + path, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.25)
        raise ServerError(self.failure(f"{self.url}{path} did not answer within {timeout:g} s"))

    def cpu_seconds(self) -> float:
        """User + system CPU the process has used so far (Linux ``/proc``; 10 ms resolution)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def failure(self, what: str) -> str:
        self._log.flush()
        tail = self.log_path.read_text(errors="replace")[-2500:]
        return f"{self.name} {what}\n--- {self.log_path} ---\n{tail}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


def fake_upstream(workdir: Path) -> Server:
    server = Server("fake-upstream", [sys.executable, "-m", "benchmarks._fake_upstream", "--port", "0"], workdir,
                    child_env(workdir), cwd=ROOT)
    server.url = f"http://127.0.0.1:{int(server.first_line(30))}"
    return server


# -- configs ---------------------------------------------------------------------------------------
def gateway_config(upstream: str, master_key_env: str | None = None) -> dict[str, Any]:
    """Ours: one model group on the fake; a budget on every user (the overshoot test) and on every project
    (the latency and throughput requests carry project ``bench``, so each reserves and settles)."""
    config: dict[str, Any] = {
        "model_list": [{"model_name": "chat",
                        "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": upstream + "/v1",
                                           "api_key": "os.environ/BENCH_PROVIDER_KEY"},
                        "model_info": {"input_cost_per_token": 0, "output_cost_per_token": OUTPUT_COST}}],
        "budgets": [{"scope": "user", "id": "*", "max_budget": BUDGET, "budget_duration": "daily"},
                    {"scope": "project", "id": "*", "max_budget": 1e9, "budget_duration": "daily"}],
    }
    if master_key_env:
        config["general_settings"] = {"master_key": f"os.environ/{master_key_env}"}
    return config


def litellm_model_list(upstream: str) -> list[dict[str, Any]]:
    return [{"model_name": "chat",
             "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": upstream + "/v1",
                                "api_key": "os.environ/BENCH_PROVIDER_KEY"},
             "model_info": {"input_cost_per_token": 0, "output_cost_per_token": OUTPUT_COST}}]


def _yaml(data: Any) -> str:
    return json.dumps(data, indent=1)  # JSON is YAML: no dumper needed, and both loaders read it


# -- our server: the CLI in its own process --------------------------------------------------------
def ours_cli(workdir: Path, upstream: str) -> tuple[Server, str]:
    """``python -m llmops_nb gateway --config FILE --port 0``; the server and its master key."""
    master_key = "sk-bench-master-" + secrets.token_urlsafe(24)
    config = workdir / "gateway.yaml"
    config.write_text(_yaml(gateway_config(upstream, "LLMOPS_GW_MASTER_KEY")))
    env = {**child_env(workdir), "LLMOPS_GW_MASTER_KEY": master_key}
    server = Server("ours-cli", [sys.executable, "-m", "llmops_nb", "gateway", "--config", str(config), "--port", "0",
                                 "--db", str(workdir / "ours-cli.duckdb")], workdir, env, cwd=ROOT)
    line = server.first_line(60)  # "llmops_nb gateway on http://127.0.0.1:PORT (1 model) — Ctrl-C to stop"
    server.url = next((word for word in line.split() if word.startswith("http://")), "")
    if not server.url:
        server.stop()
        raise ServerError(f"our gateway printed {line!r}, not its URL")
    return server, master_key


# -- LiteLLM's Proxy ---------------------------------------------------------------------------------
def litellm_proxy(workdir: Path, upstream: str, trials: int) -> tuple[Server, str]:
    """``litellm --config cfg.yaml --port P`` without a database: model ``chat``, and ``budgeted-0`` … (one per
    overshoot trial) whose one deployment has ``max_budget`` (the Router's per-deployment budget: the only
    one the Proxy enforces without a database)."""
    master_key = "sk-" + secrets.token_hex(32)  # the Proxy refuses publicly known keys such as sk-1234
    models = litellm_model_list(upstream)
    budgeted = [{"model_name": f"budgeted-{trial}",
                 "litellm_params": {**models[0]["litellm_params"], "max_budget": BUDGET, "budget_duration": "1d"},
                 "model_info": {**models[0]["model_info"], "id": f"budgeted-proxy-{trial}"}} for trial in range(trials)]
    config = workdir / "litellm-proxy.yaml"
    config.write_text(_yaml({"model_list": [*models, *budgeted],
                             "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
                             "litellm_settings": {"telemetry": False}}))
    env = {**child_env(workdir), "LITELLM_MASTER_KEY": master_key}
    if OVERLAY.is_dir():
        env["PYTHONPATH"] = str(OVERLAY) + os.pathsep + env["PYTHONPATH"]
    with socket.socket() as probe:  # the Proxy wants a port number: take a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = Path(sys.executable).parent / "litellm"
    server = Server("litellm-proxy", [sys.executable, str(script), "--config", str(config), "--host", "127.0.0.1",
                                      "--port", str(port)], workdir, env, read_stdout=False)
    server.url = f"http://127.0.0.1:{port}"
    try:
        server.wait_http("/health/liveliness", 120)
    except ServerError:
        server.stop()
        raise
    return server, master_key
