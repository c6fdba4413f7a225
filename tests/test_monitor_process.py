"""The monitor as a process and in a kernel: killed mid-pass it scores each trace exactly once after a
restart; it keeps up while another process writes traces; in a kernel it never blocks a cell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from support import outputs_text, run_cells, subprocess_env

import llmops_nb
from tests.fakes import FakeLLMServer, Reply

WRITER = """
import sys, time, llmops_nb
llmops_nb.configure(flush_interval=0.05)
count = int(sys.argv[1])

@llmops_nb.trace(name="support")
def app(question):
    return "be rude" if question % 5 == 0 else f"happy to help with {question}"

for i in range(count):
    app(i)
    time.sleep(0.01)
assert llmops_nb.flush(timeout=60)
print("written", count, flush=True)
"""


def slow_judge(delay):
    def reply(body):
        prompt = body["messages"][-1]["content"]
        return Reply(text=json.dumps({"result": "no" if "rude" in prompt else "yes"}), delay=delay)

    return reply


def write_config(path, server, *, concurrency=4, batch_size=4, interval="0.3s"):
    path.write_text(f"""
interval: {interval}
concurrency: {concurrency}
batch_size: {batch_size}
timeout: 20s
scorers:
  - judge:
      name: polite
      instructions: "Is this reply polite? {{{{ outputs }}}}"
      model: "openai:/judge-model?base_url={server.openai_base_url}&max_retries=0"
    backfill: true
""")
    return path


def monitor_process(config, db, *extra):
    return subprocess.Popen([sys.executable, "-m", "llmops_nb", "monitor", "--config", str(config), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(db))


def write_traces(db, count):
    done = subprocess.run([sys.executable, "-c", WRITER, str(count)], capture_output=True, text=True,
                          env=subprocess_env(db), timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done


def polite_counts():
    llmops_nb.flush()
    return llmops_nb.sql("SELECT trace_id, count(*) AS n FROM assessments WHERE name = 'polite' GROUP BY ALL")


@pytest.mark.slow
def test_killed_mid_pass_then_restarted_scores_every_trace_exactly_once(tmp_path, store_path):
    write_traces(store_path, 40)
    with FakeLLMServer(responder=slow_judge(0.15)) as server:
        config = write_config(tmp_path / "monitor.yaml", server)
        first = monitor_process(config, store_path)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(0.2)
                try:
                    done = len(polite_counts())
                except Exception:
                    continue
                if done >= 8:
                    break
            assert done >= 8, first.stderr.read() if first.poll() is not None else "no progress"
            os.kill(first.pid, signal.SIGKILL)  # mid-pass: calls in flight, results unwritten
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
            first.communicate()
        partial = polite_counts()
        assert 8 <= len(partial) < 40 and (partial.n == 1).all()
        again = monitor_process(config, store_path, "--once")
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, err
        assert "pass: polite" in out
    final = polite_counts()
    assert len(final) == 40 and (final.n == 1).all()
    claims = llmops_nb.sql("SELECT count(*) AS n, count(DISTINCT trace_id) AS d FROM monitor_scored")
    assert claims.n[0] == claims.d[0] == 40
    rude = llmops_nb.sql("SELECT count(*) AS n FROM assessments WHERE name = 'polite' AND value = 'false'")
    assert rude.n[0] == 8  # every fifth reply says "rude"


@pytest.mark.slow
def test_monitor_process_keeps_up_with_another_process_writing(tmp_path, store_path):
    with FakeLLMServer(responder=slow_judge(0.0)) as server:
        config = write_config(tmp_path / "monitor.yaml", server, concurrency=8, batch_size=16, interval="0.2s")
        running = monitor_process(config, store_path)
        try:
            write_traces(store_path, 60)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                time.sleep(0.3)
                try:
                    if len(polite_counts()) >= 60:
                        break
                except Exception:
                    continue
        finally:
            running.send_signal(signal.SIGTERM)  # a graceful stop: in-flight calls finish and are written
            out, err = running.communicate(timeout=60)
    assert running.returncode == 0, err
    assert "a pass every 0.2 s" in out and "pass: polite" in out
    final = polite_counts()
    assert len(final) == 60 and (final.n == 1).all()


def test_config_errors_name_the_line_and_the_fix(tmp_path, store_path):
    config = tmp_path / "monitor.yaml"
    config.write_text("scorers:\n  - builtin: safty\n")
    done = subprocess.run([sys.executable, "-m", "llmops_nb", "monitor", "--config", str(config), "--once"],
                          capture_output=True, text=True, env=subprocess_env(store_path), timeout=60, check=False)
    assert done.returncode == 2
    assert "monitor.yaml line 2: scorers[0].builtin must be one of" in done.stderr and "safety" in done.stderr
    config.write_text("scorers:\n  - function: tests.nothing:here\n")
    from llmops_nb.monitor._config import MonitorConfigError, load_monitor

    with pytest.raises(MonitorConfigError, match=r"line 2: scorers\[0\]\.function cannot be imported"):
        load_monitor(config)
    config.write_text("scorers:\n  - builtin: exact_match\n    sample_rate: 2\n")
    with pytest.raises(MonitorConfigError, match="sample_rate"):
        load_monitor(config)
    config.write_text("scorers: []\nnotify:\n  - webhook: https://hooks.example/T000/B000/secret\n")
    with pytest.raises(MonitorConfigError, match="never the URL itself") as caught:
        load_monitor(config)
    assert "secret" not in str(caught.value).replace("never the URL itself", "")


@pytest.mark.slow
def test_in_a_kernel_the_monitor_runs_beside_the_cells(store_path):
    with FakeLLMServer(responder=slow_judge(0.05)) as server:
        model = f"openai:/judge-model?base_url={server.openai_base_url}&max_retries=0"
        cells = run_cells([
            "from llmops_nb.monitor._monitor import Monitor\n"
            f"judge = llmops_nb.make_judge('polite', 'Is this polite? {{{{ outputs }}}}', model={model!r})\n"
            "mon = Monitor(interval='0.2s', concurrency=4)\n"
            "mon.add(judge)\n"
            "mon.start()",
            "import time\n"
            "@llmops_nb.trace(name='support')\n"
            "def app(q):\n"
            "    return 'sure: ' + q\n"
            "for i in range(10):\n"
            "    app(str(i))\n"
            "print('monitor running during the cell:', mon.running)",
            "deadline = time.monotonic() + 60\n"
            "while time.monotonic() < deadline and mon.status().scored[0] < 10:\n"
            "    time.sleep(0.2)\n"
            "mon.stop()\n"
            "print('scored', mon.status().scored[0], 'running', mon.running)",
        ], store_path)
    assert "monitor running during the cell: True" in outputs_text(cells[1])  # start() returned at once
    assert "scored 10 running False" in outputs_text(cells[2])
