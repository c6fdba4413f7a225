"""Alert rules on a real store: traffic through the tracing API at chosen times, rules evaluated at chosen
moments, incidents in ``monitor_incidents``, and deliveries to a real local HTTP server speaking Slack's
incoming-webhook protocol (one that answers, one that fails, one that hangs past the timeout)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import llmops_nb
from llmops_nb.monitor._alert_channels import channels_of, deliver
from llmops_nb.monitor._alert_rules import AlertRule
from llmops_nb.monitor._alerts import AlertEvent, alerts, evaluate_rules
from llmops_nb.monitor._webhook import Webhook, slack_payload
from llmops_nb.store._connection import get_store
from llmops_nb.tracing import start_span

UTC = dt.timezone.utc
#: the evaluations' "now": a fixed moment, so windows and baselines are exact
T0 = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
SECRET = "T0001/B0002/XyZsecretToken123"
EVIL = "<!channel> <img src=x onerror=alert(1)>"


def request(at: dt.datetime, *, ms: float = 100, model: str = "gpt-x", error: bool = False) -> None:
    """One request: a CHAIN root started at ``at`` with one CHAT_MODEL call to ``model``."""
    start = int(at.timestamp() * 1e6) * 1000
    root = start_span("support", kind="CHAIN", parent=False)
    root.start_ns = start
    call = start_span("chat", kind="CHAT_MODEL", parent=root, attributes={"gen_ai.request.model": model})
    call.start_ns = start + 1000
    if error:
        call.set_status("ERROR", "upstream failed")
        root.set_status("ERROR", "upstream failed")
    call.end(end_ns=start + int(ms * 1e6) - 1000)
    root.end(end_ns=start + int(ms * 1e6))


def traffic(at: dt.datetime, n: int, errors: int = 0, **options) -> None:
    for i in range(n):
        request(at + dt.timedelta(seconds=i), error=i < errors, **options)
    assert llmops_nb.flush(timeout=30)


def incidents():
    with get_store().connect() as con:
        return con.execute("SELECT rule, group_key, state, value, baseline, threshold, message, deliveries "
                           "FROM monitor_incidents ORDER BY opened_at, incident_id").fetchall()


# -------------------------------------------------------------------------------- a webhook receiver


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # the name http.server dispatches to
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        with server.lock:
            server.received.append((self.path, json.loads(body), dict(self.headers)))
            plan = server.plans.get(self.path.split("?")[0], [])
            action = plan.pop(0) if len(plan) > 1 else plan[0] if plan else 200
        if action == "hang":
            server.release.wait(10)  # past any client's timeout; released at teardown
            return
        reply = f"no_service for {self.path}".encode() if action >= 400 else b"ok"  # echoes the secret path
        try:
            self.send_response(action)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def hooks():
    """A Slack-like receiver on 127.0.0.1: ``plans[path]`` lists what each POST gets (a status or "hang");
    ``received`` holds (path, JSON body, headers)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.daemon_threads = True
    server.lock, server.received, server.plans, server.release = threading.Lock(), [], {}, threading.Event()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def bodies(server, path):
    return [body for got, body, _ in server.received if got.split("?")[0] == path]


# ------------------------------------------------------------------------------------------ rules


def test_rules_are_checked_when_written():
    AlertRule("ok", "errors/TimeoutError", above=3)
    AlertRule("scores", "correctness/pass_rate", below=0.8, by=("model", "tag:env"))
    with pytest.raises(ValueError, match="Did you mean 'error_rate'"):
        AlertRule("r", "eror_rate", above=0.1)
    with pytest.raises(ValueError, match="Did you mean 'pass_rate'"):
        AlertRule("r", "correctness/pass_rat", below=0.8)
    with pytest.raises(ValueError, match="exactly one of above=, below=, change_above=, change_below= "
                                         r"\(got above, below\)"):
        AlertRule("r", "error_rate", above=0.1, below=0.01)
    with pytest.raises(ValueError, match=r"got none\)"):
        AlertRule("r", "error_rate")
    with pytest.raises(ValueError, match=r"change_below=-0\.1 fires at -10%"):
        AlertRule("r", "latency_p95_ms", change_below=0.1)
    with pytest.raises(ValueError, match=r"change_above=0\.2 fires at"):
        AlertRule("r", "latency_p95_ms", change_above=-0.2)
    with pytest.raises(ValueError, match="window is a duration like"):
        AlertRule("r", "error_rate", above=0.1, window="15 minutes")
    with pytest.raises(ValueError, match="Did you mean 'critical'"):
        AlertRule("r", "error_rate", above=0.1, severity="critcal")
    with pytest.raises(ValueError, match="min_requests"):
        AlertRule("r", "error_rate", above=0.1, min_requests=0)
    with pytest.raises(ValueError, match=r"is refused: DuckDB could not parse it"):
        AlertRule("r", "error_rate", above=0.1, where="1=1); DROP TABLE spans; --")
    with pytest.raises(TypeError, match="is a number"):
        AlertRule("r", "error_rate", above="0.1")
    with pytest.raises(ValueError, match="non-empty string"):
        AlertRule("", "error_rate", above=0.1)
    rule = AlertRule("r", "error_rate", above=1, by="model")
    assert rule.by == ("model",) and rule.threshold == 1.0 and rule.kind == "above"
    with pytest.raises(ValueError, match="given twice"):
        evaluate_rules([rule, rule], now=T0)


def test_channels_are_checked_before_anything_runs():
    with pytest.raises(ValueError, match="Did you mean 'notebook'"):
        channels_of(["notebok"])
    with pytest.raises(ValueError, match="a URL without https://"):
        channels_of(["hooks.slack.com/services/x"])
    with pytest.raises(ValueError, match="starts with https://"):
        Webhook("ftp://example.com/x")
    with pytest.raises(ValueError, match="timeout"):
        Webhook("https://example.com/x", timeout=0)
    assert [c.label for c in channels_of(["notebook", print, f"https://hooks.slack.com/services/{SECRET}"])] == [
        "notebook", "callback:print", "webhook:hooks.slack.com"]
    assert SECRET not in repr(Webhook(f"https://hooks.slack.com/services/{SECRET}"))


# ------------------------------------------------------------------------- firing and resolving


def test_an_incident_fires_once_resolves_and_fires_again_as_a_new_one():
    rule = AlertRule("errors-high", "error_rate", above=0.2, window="15m")
    traffic(T0 - dt.timedelta(minutes=10), 10, errors=5)
    fired = evaluate_rules([rule], now=T0)
    assert [(e.state, e.rule, e.group, e.value, e.threshold) for e in fired] == [
        ("fired", "errors-high", {}, 0.5, 0.2)]
    assert fired[0].message == "error_rate 0.5 > 0.2 over the last 15m" and fired[0].severity == "warning"
    assert evaluate_rules([rule], now=T0 + dt.timedelta(minutes=1)) == []  # still firing: quiet
    assert [row[2] for row in incidents()] == ["FIRING"]

    traffic(T0 + dt.timedelta(minutes=20), 10)  # healthy traffic, the errors out of the window
    resolved = evaluate_rules([rule], now=T0 + dt.timedelta(minutes=30))
    assert [(e.state, e.incident_id, e.value) for e in resolved] == [("resolved", fired[0].incident_id, 0.0)]
    assert resolved[0].message == "error_rate 0 <= 0.2 over the last 15m"
    assert evaluate_rules([rule], now=T0 + dt.timedelta(minutes=31)) == []

    traffic(T0 + dt.timedelta(minutes=50), 4, errors=4)
    again = evaluate_rules([rule], now=T0 + dt.timedelta(minutes=55))
    assert [e.state for e in again] == ["fired"] and again[0].incident_id != fired[0].incident_id
    frame = alerts()
    assert list(frame.state) == ["FIRING", "RESOLVED"] and list(frame.incident_id)[1] == fired[0].incident_id
    assert frame.group.tolist() == [{}, {}] and frame.resolved_at.notna().tolist() == [False, True]
    assert list(alerts(state="resolved").incident_id) == [fired[0].incident_id]
    assert alerts(rule="other").empty


def test_a_change_rule_compares_with_the_baseline_before_the_window():
    rule = AlertRule("slower", "latency_p95_ms", change_above=0.5, window="1h", baseline="1d")
    for hour in range(2, 20, 3):
        traffic(T0 - dt.timedelta(hours=hour), 5, ms=100)  # the baseline day: 100 ms
    traffic(T0 - dt.timedelta(minutes=30), 5, ms=100)
    assert evaluate_rules([rule], now=T0) == []  # +0%
    traffic(T0 + dt.timedelta(minutes=40), 20, ms=300)
    fired = evaluate_rules([rule], now=T0 + dt.timedelta(hours=1))
    assert [e.state for e in fired] == ["fired"]
    event = fired[0]
    assert event.baseline == pytest.approx(100, rel=0.05) and event.value == pytest.approx(300, rel=0.05)
    assert "over the 1d before (> +50%)" in event.message and "+2" in event.message  # +200%
    falling = AlertRule("fewer", "requests", change_below=-0.5, window="1h", baseline="1d")
    assert evaluate_rules([falling], now=T0 + dt.timedelta(hours=1)) == []  # 25 now vs ~30 a day: -17%


def test_too_few_requests_neither_fire_nor_resolve():
    rule = AlertRule("errors-high", "error_rate", above=0.2, window="15m", min_requests=5)
    traffic(T0 - dt.timedelta(minutes=5), 3, errors=3)
    assert evaluate_rules([rule], now=T0) == []  # 3 requests: no data
    traffic(T0 + dt.timedelta(minutes=20), 5, errors=5)
    assert [e.state for e in evaluate_rules([rule], now=T0 + dt.timedelta(minutes=25))] == ["fired"]
    traffic(T0 + dt.timedelta(minutes=40), 2)  # healthy, but too little to say so
    assert evaluate_rules([rule], now=T0 + dt.timedelta(minutes=45)) == []
    assert [row[2] for row in incidents()] == ["FIRING"]


def test_one_incident_per_group():
    rule = AlertRule("errors-by-model", "error_rate", above=0.2, window="15m", by=("model",))
    traffic(T0 - dt.timedelta(minutes=5), 10, errors=8, model="bad-model")
    traffic(T0 - dt.timedelta(minutes=5), 10, errors=1, model="good-model")
    traffic(T0 - dt.timedelta(minutes=5), 4, errors=4, model=EVIL)
    fired = evaluate_rules([rule], now=T0)
    assert sorted(e.group["model"] for e in fired) == sorted(["bad-model", EVIL])
    assert any(e.message == "error_rate 0.8 > 0.2 over the last 15m (model=bad-model)" for e in fired)
    assert sorted(json.loads(row[1])["model"] for row in incidents()) == sorted(["bad-model", EVIL])
    traffic(T0 + dt.timedelta(minutes=20), 10, model="bad-model")
    later = evaluate_rules([rule], now=T0 + dt.timedelta(minutes=30))
    assert [(e.state, e.group) for e in later] == [("resolved", {"model": "bad-model"})]  # EVIL: no data


def test_two_evaluations_at_once_open_one_incident():
    rule = AlertRule("errors-high", "error_rate", above=0.2, window="15m")
    traffic(T0 - dt.timedelta(minutes=5), 10, errors=5)
    start, results = threading.Barrier(2), []

    def evaluate():
        start.wait()
        results.append(evaluate_rules([rule], now=T0))

    threads = [threading.Thread(target=evaluate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(events) for events in results) == [0, 1]
    assert len(incidents()) == 1


def test_scores_alert_per_scorer_metric():
    rule = AlertRule("quality", "correctness/pass_rate", below=0.8, window="1h")
    traffic(T0 - dt.timedelta(minutes=30), 10)
    assert llmops_nb.flush(timeout=30)
    trace_ids = llmops_nb.sql("SELECT trace_id FROM traces ORDER BY start_ns").trace_id.tolist()
    for i, trace_id in enumerate(trace_ids):
        llmops_nb.log_feedback(trace_id, value=i >= 4, name="correctness")
    fired = evaluate_rules([rule], now=T0)
    assert [(e.state, e.value) for e in fired] == [("fired", pytest.approx(0.6))]


# ----------------------------------------------------------------------------------- delivery


def test_the_webhook_gets_slack_json_and_the_incident_keeps_the_delivery(hooks):
    rule = AlertRule("errors-by-model", "error_rate", above=0.2, window="15m", by="model", severity="critical")
    traffic(T0 - dt.timedelta(minutes=5), 4, errors=4, model=EVIL)
    got = []
    events = evaluate_rules([rule], now=T0, channels=[f"{hooks.url}/services/{SECRET}", got.append])
    assert got == events and len(events) == 1
    (body,) = bodies(hooks, f"/services/{SECRET}")
    assert set(body) == {"text", "blocks"} and body["blocks"][0]["type"] == "section"
    text = body["blocks"][0]["text"]
    assert text["type"] == "mrkdwn" and "FIRING [critical] errors-by-model" in text["text"]
    # a group value cannot ping the channel or inject a link: Slack's control characters escaped
    assert "<!channel>" not in json.dumps(body) and "&lt;!channel&gt;" in body["text"]
    assert events[0].incident_id in text["text"]
    (row,) = incidents()
    delivery, callback = json.loads(row[7])
    assert delivery["channel"] == "webhook:127.0.0.1" and delivery["ok"] is True and delivery["event"] == "fired"
    assert callback["channel"] == "callback:list.append" and callback["ok"] is True
    assert json.loads(row[7]) == alerts().deliveries[0]


def test_a_hanging_webhook_fails_alone(hooks, caplog):
    hooks.plans["/hang"] = ["hang"]
    rule = AlertRule("errors-high", "error_rate", above=0.2, window="15m")
    traffic(T0 - dt.timedelta(minutes=5), 10, errors=5)
    got = []
    with caplog.at_level(logging.WARNING, logger="llmops_nb"):
        events = evaluate_rules([rule], now=T0, channels=[Webhook(f"{hooks.url}/hang", timeout=0.3),
                                                            got.append, f"{hooks.url}/ok", "notebook"])
    assert [e.state for e in events] == ["fired"] and got == events
    assert len(bodies(hooks, "/hang")) == 2  # the first attempt and one retry
    assert len(bodies(hooks, "/ok")) == 1
    (row,) = incidents()
    deliveries = json.loads(row[7])
    assert [(d["channel"], d["ok"]) for d in deliveries] == [
        ("webhook:127.0.0.1", False), ("callback:list.append", True), ("webhook:127.0.0.1", True),
        ("notebook", True)]
    assert "Timeout" in deliveries[0]["error"] and "after one retry" in deliveries[0]["error"]
    failures = [r for r in caplog.records if "was not delivered" in r.getMessage()]
    assert len(failures) == 1 and "webhook:127.0.0.1" in failures[0].getMessage()


def test_a_raising_callback_is_recorded_and_the_others_still_go(hooks, caplog):
    def broken(event):
        raise RuntimeError("pager down")

    rule = AlertRule("errors-high", "error_rate", above=0.2, window="15m")
    traffic(T0 - dt.timedelta(minutes=5), 10, errors=5)
    with caplog.at_level(logging.WARNING, logger="llmops_nb"):
        events = evaluate_rules([rule], now=T0, channels=[broken, f"{hooks.url}/ok"])
    assert len(events) == 1 and len(bodies(hooks, "/ok")) == 1
    deliveries = json.loads(incidents()[0][7])
    assert deliveries[0]["channel"].startswith("callback:") and deliveries[0]["channel"].endswith("broken")
    assert deliveries[0]["ok"] is False and deliveries[0]["error"] == "RuntimeError: pager down"
    assert deliveries[1]["ok"] is True
    assert len([r for r in caplog.records if "pager down" in r.getMessage()]) == 1
    # the resolution is delivered too, and appended to the same incident's record
    traffic(T0 + dt.timedelta(minutes=20), 10)
    evaluate_rules([rule], now=T0 + dt.timedelta(minutes=30), channels=[f"{hooks.url}/ok"])
    assert [d["event"] for d in json.loads(incidents()[0][7])] == ["fired", "fired", "resolved"]


def test_webhook_retries_a_server_error_once_and_not_a_client_error(hooks):
    event = AlertEvent("r", "fired", {}, 1.0, None, 0.5, "m", "0" * 32, T0, "info", "error_rate")
    hooks.plans["/flaky"] = [503, 200]
    hooks.plans["/gone"] = [404]
    records = deliver([event], channels_of([f"{hooks.url}/flaky", f"{hooks.url}/gone"]))
    flaky, gone = records["0" * 32]
    assert flaky["ok"] is True and len(bodies(hooks, "/flaky")) == 2
    assert gone["ok"] is False and gone["error"].startswith("HTTP 404 from 127.0.0.1")
    assert len(bodies(hooks, "/gone")) == 1


def test_the_webhook_url_is_never_stored_or_logged(hooks, caplog, store_path):
    hooks.plans[f"/services/{SECRET}"] = [500]  # the reply echoes the secret path
    url = f"{hooks.url}/services/{SECRET}?token=QueryS3cret"
    rule = AlertRule("errors-high", "error_rate", above=0.2, window="15m")
    traffic(T0 - dt.timedelta(minutes=5), 10, errors=5)
    with caplog.at_level(logging.DEBUG, logger="llmops_nb"):
        evaluate_rules([rule], now=T0, channels=[Webhook(url, timeout=2, headers={"X-Auth": "HeaderS3cret"})])
    assert len(bodies(hooks, f"/services/{SECRET}")) == 2
    assert hooks.received[0][2]["X-Auth"] == "HeaderS3cret"
    (delivery,) = alerts().deliveries[0]
    assert delivery["ok"] is False and "HTTP 500" in delivery["error"]
    text = json.dumps([list(map(str, row)) for row in incidents()]) + caplog.text
    for secret in (SECRET, "QueryS3cret", "HeaderS3cret", "XyZsecretToken123"):
        assert secret not in text
    get_store().close()
    for path in (store_path, store_path.with_name(store_path.name + ".wal")):
        if path.exists():
            raw = path.read_bytes()
            assert b"XyZsecretToken123" not in raw and b"QueryS3cret" not in raw


def test_the_notebook_notice_is_escaped(monkeypatch, caplog):
    import IPython
    import IPython.display

    event = AlertEvent("r", "fired", {"model": EVIL}, 1.0, None, 0.5, f"error_rate 1 > 0.5 (model={EVIL})",
                       "0" * 32, T0, "warning", "error_rate")
    # outside IPython (whatever shell an earlier test of this process made): a log line, as "log" writes
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    with caplog.at_level(logging.WARNING, logger="llmops_nb"):
        deliver([event], channels_of(["notebook", "log"]))
    assert caplog.text.count("alert FIRED [warning] r") == 2
    shown = []
    monkeypatch.setattr(IPython, "get_ipython", object)  # any shell
    monkeypatch.setattr(IPython.display, "display", lambda bundle, raw: shown.append(bundle))
    (record,) = deliver([event], channels_of(["notebook"]))["0" * 32]
    assert record["ok"] is True
    html = shown[0]["text/html"]
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in event._repr_html_()
    assert "<!channel>" not in json.dumps(slack_payload(event))


def test_alerts_since_keeps_incidents_open_since_then():
    rule = AlertRule("errors-high", "error_rate", above=0.2, window="15m")
    traffic(T0 - dt.timedelta(minutes=5), 10, errors=5)
    evaluate_rules([rule], now=T0)
    assert len(alerts(since="1h")) == 1  # opened a day ago, still firing
    traffic(T0 + dt.timedelta(minutes=20), 10)
    evaluate_rules([rule], now=T0 + dt.timedelta(minutes=30))  # resolved a day ago
    assert alerts(since="1h").empty and len(alerts(since="2d")) == 1
    with pytest.raises(ValueError, match="FIRING or RESOLVED"):
        alerts(state="open")
