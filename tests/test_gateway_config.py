"""The gateway's config (``gateway/_config*.py``) and its errors (``gateway/_errors.py``).

Every config mistake must name its line and the fix; a key written into the config must be refused
without the key appearing anywhere in the error.
"""

from __future__ import annotations

import json
import logging
import os
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from llmops_nb._errors import LlmopsError
from llmops_nb.gateway._config import (
    BudgetRule,
    GatewayConfig,
    RateRule,
    RouterSettings,
    load_config,
    resolve_secret,
)
from llmops_nb.gateway._errors import (
    BudgetExceededError,
    GatewayAuthError,
    GatewayConfigError,
    GatewayError,
    GatewayForbiddenError,
    GatewayRateLimitError,
    GatewayRequestTooLarge,
    NoDeploymentError,
    UnknownModelError,
    UpstreamError,
)
from llmops_nb.gateway._types import Deployment, UpstreamFailure

# Looks like an OpenAI project key; never a real one.
FAKE_KEY = "sk-proj-Zq7xT4mK9pL2wR8vN5bC3dF6gH1jY0uE"

FULL = """\
model_list:
  - model_name: chat
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:8001/v1/
      api_key: os.environ/OPENAI_API_KEY
      rpm: 600
      tpm: 100000
      weight: 2
      order: 1
      timeout: 30
      max_tokens: 256
      temperature: 0.2
    model_info:
      id: primary-openai
      max_input_tokens: 128000
      max_output_tokens: 16384
      input_cost_per_token: 0.00000015
      output_cost_per_token: 0.0000006
  - model_name: chat
    litellm_params:
      model: anthropic/claude-haiku-4-5
      api_key: secrets/ANTHROPIC
      order: 2
  - model_name: backup-chat
    litellm_params:
      model: local/smollm2
  - model_name: long-chat
    litellm_params:
      model: openai/meta-llama/Llama-3.1-8B-Instruct
      api_base: http://127.0.0.1:8002/v1
      input_cost_per_token: 0.0
    model_info:
      mode: chat
  - model_name: other-chat
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_key: os.environ/ANTHROPIC_API_KEY
router_settings:
  routing_strategy: least-busy
  num_retries: 3
  retry_after: 0.5
  allowed_fails: 2
  cooldown_time: 10
  timeout: 120
  fallbacks: [{chat: [backup-chat]}]
  context_window_fallbacks: {chat: [long-chat, backup-chat]}
  content_policy_fallbacks:
    - chat: [other-chat]
general_settings:
  master_key: os.environ/LLMOPS_GW_MASTER_KEY
  secrets_file: secrets.yaml
  max_request_bytes: 1048576
  store: data/llmops.duckdb
budgets:
  - scope: team
    id: ml
    max_budget: 5.0
    budget_duration: daily
  - scope: key
    id: "*"
    max_budget: 20
    budget_duration: 7d
    action: alert
  - scope: project
    id: 42
    max_budget: 100
    budget_duration: 1mo
rate_limits:
  - scope: user
    id: "*"
    rpm: 60
    tpm: 100000
  - scope: team
    id: ml
    tpm: 500000
"""

MINIMAL = {"model_list": [{"model_name": "chat", "litellm_params": {"model": "openai/gpt-4o-mini"}}]}


def write(tmp_path: Path, text: str, name: str = "gateway.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_error(tmp_path: Path, text: str) -> str:
    """The message of the GatewayConfigError that loading ``text`` (as gateway.yaml) raises."""
    write(tmp_path, text)
    os.chdir(tmp_path)  # so the label is "gateway.yaml", as a user who passes a relative path sees it
    with pytest.raises(GatewayConfigError) as info:
        load_config("gateway.yaml")
    return str(info.value)


@pytest.fixture(autouse=True)
def _keep_cwd(monkeypatch):
    monkeypatch.chdir(os.getcwd())  # undone after each test, whatever config_error() did


def one_deployment(params: str, extra: str = "") -> str:
    """One deployment whose litellm_params are ``params`` (from line 4), then ``extra`` as written."""
    body = textwrap.indent(textwrap.dedent(params), " " * 6)
    return f"model_list:\n  - model_name: chat\n    litellm_params:\n{body}{extra}"


# -- a full config ------------------------------------------------------------------------------------------
def test_a_full_config_reads_every_field(tmp_path):
    path = write(tmp_path, FULL)
    config = load_config(path)
    assert isinstance(config, GatewayConfig)
    assert config.source == str(path.resolve())

    primary, haiku, local, llama, sonnet = config.deployments
    assert primary == Deployment(
        model_name="chat", id="primary-openai", provider="openai", model="gpt-4o-mini", protocol="openai",
        api_base="http://127.0.0.1:8001/v1", api_key_ref="os.environ/OPENAI_API_KEY", rpm=600, tpm=100000,
        weight=2.0, order=1, timeout=30.0, max_input_tokens=128000, max_output_tokens=16384,
        input_cost_per_token=0.00000015, output_cost_per_token=0.0000006,
        params={"max_tokens": 256, "temperature": 0.2}, line=2)
    assert (haiku.id, haiku.provider, haiku.protocol, haiku.api_key_ref) == (
        "chat#1", "anthropic", "anthropic", "secrets/ANTHROPIC")
    assert haiku.timeout == 120.0 and haiku.weight == 1.0 and haiku.order == 2 and haiku.params == {}
    assert haiku.line == 20
    assert (local.id, local.provider, local.model, local.protocol, local.api_base) == (
        "backup-chat#2", "local", "smollm2", "openai", None)
    # an OpenAI-compatible server: the model id keeps its own slashes
    assert (llama.provider, llama.model, llama.input_cost_per_token) == (
        "openai", "meta-llama/Llama-3.1-8B-Instruct", 0.0)
    assert sonnet.protocol == "anthropic"

    assert config.groups() == {"chat": [primary, haiku], "backup-chat": [local], "long-chat": [llama],
                               "other-chat": [sonnet]}
    assert config.router == RouterSettings(
        routing_strategy="least-busy", num_retries=3, retry_after=0.5, allowed_fails=2, cooldown_time=10.0,
        timeout=120.0, fallbacks={"chat": ("backup-chat",)},
        context_window_fallbacks={"chat": ("long-chat", "backup-chat")},
        content_policy_fallbacks={"chat": ("other-chat",)})
    assert config.master_key_ref == "os.environ/LLMOPS_GW_MASTER_KEY"
    # relative paths are relative to the config file, not to the working directory
    assert config.secrets_file == str(tmp_path.resolve() / "secrets.yaml")
    assert config.store == str(tmp_path.resolve() / "data" / "llmops.duckdb")
    assert config.max_request_bytes == 1048576
    assert config.budgets == (
        BudgetRule("team", "ml", 5.0, "daily", "reject", 56),
        BudgetRule("key", "*", 20.0, "weekly", "alert", 60),
        BudgetRule("project", "42", 100.0, "monthly", "reject", 65),
    )
    assert config.rate_limits == (RateRule("user", "*", 60, 100000, 70), RateRule("team", "ml", None, 500000, 74))


def test_defaults_of_a_minimal_config():
    config = load_config(MINIMAL)
    (deployment,) = config.deployments
    assert (deployment.id, deployment.timeout, deployment.api_key_ref, deployment.line) == ("chat#0", 600.0, None, None)
    assert config.router == RouterSettings()
    assert RouterSettings().routing_strategy == "simple-shuffle" and RouterSettings().num_retries == 2
    assert (config.budgets, config.rate_limits, config.master_key_ref, config.secrets_file, config.store,
            config.source) == ((), (), None, None, None, None)
    assert config.max_request_bytes == 4 * 1024 * 1024


def test_the_config_is_frozen():
    config = load_config(MINIMAL)
    with pytest.raises(AttributeError):
        config.store = "elsewhere"  # type: ignore[misc]


# -- errors name the line and the fix ---------------------------------------------------------------------
def test_a_bad_value_names_file_line_path_and_value(tmp_path):
    text = FULL.replace("      order: 2\n", "      order: 2\n      rpm: fast\n")
    assert config_error(tmp_path, text) == (
        "gateway.yaml line 25: model_list[1].litellm_params.rpm must be a positive integer, got 'fast'")


@pytest.mark.parametrize(("text", "expected"), [
    (one_deployment("model: openai/gpt-4o\nrmp: 5\n"),
     "gateway.yaml line 5: model_list[0].litellm_params.rmp is not a known setting"),
    (one_deployment("model: openai/gpt-4o\nbase_url: http://127.0.0.1:9/v1\n"),
     "line 5: model_list[0].litellm_params.base_url is called api_base here; write api_base: instead"),
    (one_deployment("model: openai/gpt-4o\napi_version: '2024-02-01'\n"),
     "line 5: model_list[0].litellm_params.api_version is a LiteLLM setting not supported by llmops_nb's gateway"),
    (one_deployment("model: azure/gpt-4o\n"), "line 4: model_list[0].litellm_params.model names the provider "
                                              "'azure', which llmops_nb's gateway does not serve."),
    (one_deployment("model: opneai/gpt-4o\n"), "Did you mean 'openai'?"),
    (one_deployment("model: gpt-4o\n"), "line 4: model_list[0].litellm_params.model must be provider/model, "
                                        "e.g. openai/gpt-4o"),
    (one_deployment("model: anthropic/\n"), "names no model after anthropic/"),
    (one_deployment("model: openai/gpt-4o\ntimeout: 0\n"), "line 5: model_list[0].litellm_params.timeout must "
                                                            "be a number > 0, got 0"),
    (one_deployment("model: openai/gpt-4o\nweight: true\n"), "weight must be a number > 0, got true"),
    (one_deployment("model: openai/gpt-4o\ntemperature: hot\n"), "line 5: model_list[0].litellm_params.temperature"),
    (one_deployment("model: openai/gpt-4o\nmax_tokens: 1.5\n"), "max_tokens must be a positive integer, got 1.5"),
    (one_deployment("model: openai/gpt-4o\napi_base: localhost:8000\n"),
     "line 5: model_list[0].litellm_params.api_base must be an http(s) URL such as http://127.0.0.1:8001/v1"),
    (one_deployment("model: openai/gpt-4o\napi_key: secrets/OPENAI\n"),
     "line 5: model_list[0].litellm_params.api_key is secrets/OPENAI, but no secrets file is set; add "
     "general_settings.secrets_file"),
    (one_deployment("model: openai/gpt-4o\napi_key: os.environ/\n"), "is not a valid reference: after os.environ/"),
    (one_deployment("model: openai/gpt-4o\n", "    model_info:\n      max_tokens: 4096\n"),
     "line 6: model_list[0].model_info.max_tokens is called max_output_tokens here"),
    (one_deployment("model: openai/gpt-4o\ninput_cost_per_token: 1e-6\n",
                    "    model_info:\n      input_cost_per_token: 0.000001\n"),
     "input_cost_per_token is also given in model_info; keep one"),
    (one_deployment("model: openai/gpt-4o\n", "    model_info:\n      mode: image\n"),
     "line 6: model_list[0].model_info.mode must be one of chat, embedding, completion, responses"),
    ("model_list:\n  - model_name: chat\n", "gateway.yaml line 2: model_list[0] needs 'litellm_params'"),
    ("model_list:\n  - litellm_params: {model: openai/x}\n", "line 2: model_list[0] needs 'model_name'"),
    ("model_list:\n  - model_name: chat\n    litellm_params: {}\n", "line 3: model_list[0].litellm_params needs "
                                                                  "'model'"),
    ("model_list: []\n", "gateway.yaml line 1: model_list is empty; add at least one deployment"),
    ("router_settings: {}\n", "gateway.yaml: model_list is required"),
    ("model_list:\n  chat: openai/gpt-4o\n", "line 1: model_list must be a list"),
    ("", "gateway.yaml is empty; it needs a model_list"),
    ("- a\n- b\n", "gateway.yaml must be a mapping with model_list"),
    ("model_list:\n  - model_name: chat\n    model_name: chat2\n",
     "gateway.yaml line 3: model_list[0].model_name is given twice (first on line 2); keep one"),
    ("model_list:\n  - model_name: [chat\n", "gateway.yaml line 3: not valid YAML"),
    ("model_lst: []\n", "gateway.yaml line 1: model_lst is not a known setting"),
    ("environment_variables:\n  OPENAI_API_KEY: x\n", "line 1: environment_variables is a LiteLLM setting not "
                                                      "supported by llmops_nb's gateway; keys never go in the config"),
])
def test_each_mistake_names_its_line_and_fix(tmp_path, text, expected):
    assert expected in config_error(tmp_path, text)


def test_unknown_keys_get_did_you_mean(tmp_path):
    assert config_error(tmp_path, one_deployment("model: openai/gpt-4o\nrmp: 5\n")).endswith("Did you mean 'rpm'?")


def test_duplicate_deployment_ids(tmp_path):
    text = """\
    model_list:
      - model_name: chat
        litellm_params: {model: openai/a}
        model_info: {id: same}
      - model_name: chat
        litellm_params: {model: openai/b}
        model_info: {id: same}
    """
    assert config_error(tmp_path, text) == (
        "gateway.yaml line 5: model_list[1] has the deployment id 'same', already the id of model_list[0] (line 2); "
        "ids must be unique: give one of them another model_info.id")


def test_a_merge_key_keeps_lines(tmp_path):
    text = """\
    model_list:
      - model_name: chat
        litellm_params: &base
          model: openai/gpt-4o
          rpm: 10
      - model_name: chat
        litellm_params:
          <<: *base
          tpm: lots
    """
    assert config_error(tmp_path, text).startswith("gateway.yaml line 9: model_list[1].litellm_params.tpm")
    assert load_config(write(tmp_path, text.replace("lots", "1000"))).deployments[1].rpm == 10


@pytest.mark.parametrize(("section", "expected"), [
    ("router_settings:\n  redis_host: localhost\n",
     "gateway.yaml line 6: router_settings.redis_host is a LiteLLM setting not supported by llmops_nb's gateway; "
     "the gateway runs in one process"),
    ("general_settings:\n  database_url: postgresql://u:p@h/db\n",
     "line 6: general_settings.database_url is a LiteLLM setting not supported by llmops_nb's gateway; keys, "
     "spend and traces go to llmops_nb's store"),
    ("router_settings:\n  routing_strategy: usage-based-routing-v2\n",
     "line 6: router_settings.routing_strategy 'usage-based-routing-v2' is not supported by llmops_nb's gateway; "
     "use least-busy"),
    ("router_settings:\n  routing_strategy: least_busy\n",
     "router_settings.routing_strategy must be one of simple-shuffle, least-busy, latency-based-routing, "
     "cost-based-routing, got 'least_busy'. Did you mean 'least-busy'?"),
    ("router_settings:\n  num_retries: -1\n", "router_settings.num_retries must be an integer ≥ 0, got -1"),
    ("router_settings:\n  cooldown_time: soon\n", "router_settings.cooldown_time must be a number ≥ 0"),
    ("general_settings:\n  max_request_bytes: 10\n  max_request_size_mb: 1\n",
     "line 7: general_settings.max_request_size_mb and max_request_bytes say the same thing; keep one"),
    ("general_settings:\n  max_request_size: 10\n", "is called max_request_bytes here"),
    ("litellm_settings:\n  num_retries: 3\n",
     "line 6: litellm_settings.num_retries changes routing, which this gateway reads from router_settings: move "
     "it to router_settings.num_retries"),
    ("litellm_settings:\n  request_timeout: 3\n", "move it to router_settings.timeout"),
    ("budgets:\n  - scope: team\n    id: ml\n    max_budget: 5\n    budget_duration: 2d\n",
     "gateway.yaml line 9: budgets[0].budget_duration must be daily, weekly or monthly (UTC calendar windows; "
     "1d/24h, 7d/1w and 30d/1mo are read as those), got '2d'"),
    ("budgets:\n  - scope: org\n    id: ml\n    max_budget: 5\n    budget_duration: daily\n",
     "line 6: budgets[0].scope must be one of key, user, team, project, got 'org'"),
    ("budgets:\n  - scope: team\n    max_budget: 5\n    budget_duration: daily\n", "line 6: budgets[0] needs 'id'"),
    ("budgets:\n  - scope: team\n    scope_id: ml\n", "line 7: budgets[0].scope_id is called id here"),
    ("budgets:\n  - scope: team\n    id: ml\n    max_budget: -5\n    budget_duration: daily\n",
     "line 8: budgets[0].max_budget must be a number ≥ 0, got -5"),
    ("budgets:\n  - {scope: team, id: ml, max_budget: 5, budget_duration: daily, action: block}\n",
     "budgets[0].action must be one of reject, alert, got 'block'"),
    ("budgets:\n  - {scope: team, id: ml, max_budget: 5, budget_duration: daily}\n"
     "  - {scope: team, id: ml, max_budget: 9, budget_duration: 1d}\n",
     "line 7: budgets[1] is a second daily budget for team 'ml'; keep one"),
    ("rate_limits:\n  - {scope: key, id: '*', rpm: 5}\n",
     "line 6: rate_limits[0].scope is 'key': a key's rpm/tpm are set on the key"),
    ("rate_limits:\n  - {scope: user, id: '*'}\n",
     "line 6: rate_limits[0] sets no limit; give rpm (requests per minute), tpm (tokens per minute) or both"),
    ("rate_limits:\n  - {scope: user, id: '*', rpm: 0}\n", "rate_limits[0].rpm must be a positive integer, got 0"),
    ("rate_limits:\n  - {scope: user, id: '', rpm: 5}\n",
     "rate_limits[0].id must be an id, or \"*\" for each one separately, got ''"),
    ("budgets:\n  - scope: team\n    id: *\n", 'line 7: not valid YAML: expected alphabetic or numeric character, '
                                               'but found \'\\n\'; a bare * starts a YAML alias: quote it, as in '
                                               'id: "*"'),
])
def test_section_mistakes(tmp_path, section, expected):
    assert expected in config_error(tmp_path, one_deployment("model: openai/gpt-4o\n") + section)


# -- keys never in the config -------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    one_deployment(f"model: openai/gpt-4o\napi_key: {FAKE_KEY}\n"),
    one_deployment(f"model: openai/gpt-4o\napi_key: '{FAKE_KEY}'\n"),
])
def test_a_literal_api_key_is_refused_without_showing_it(tmp_path, text):
    message = config_error(tmp_path, text)
    assert message == (
        "gateway.yaml line 5: model_list[0].litellm_params.api_key holds a literal key; keys never go in the config "
        "(it is read by many and stored in traces): put it in the environment and write "
        "api_key: os.environ/OPENAI_API_KEY (or secrets/NAME with general_settings.secrets_file). Leave api_key out "
        "if none is needed; rotate the key if this file was shared")
    assert FAKE_KEY not in message and FAKE_KEY[8:20] not in message


def test_no_error_path_shows_a_key(tmp_path, caplog):
    """Other places a key may be pasted by mistake: the message names the place, never the value."""
    cases = [
        one_deployment("model: anthropic/claude\napi_key: 12345678901234567890\n"),  # not a string
        one_deployment("model: openai/gpt-4o\n") + f"general_settings:\n  master_key: {FAKE_KEY}\n",
        one_deployment(f"model: openai/gpt-4o\napi_base: {FAKE_KEY}\n"),  # wrong field: value redacted
        one_deployment(f"model: openai/gpt-4o\napi_key: [{FAKE_KEY}\n"),  # broken YAML around it
        one_deployment("model: openai/gpt-4o\n") + f"environment_variables:\n  OPENAI_API_KEY: {FAKE_KEY}\n",
        one_deployment(f"model: openai/gpt-4o\naws_secret_access_key: {FAKE_KEY}\n"),
    ]
    messages = [config_error(tmp_path, text) for text in cases]
    for message in messages:
        assert FAKE_KEY not in message and FAKE_KEY[8:20] not in message
    assert "anthropic/claude" not in messages[0] and "os.environ/ANTHROPIC_API_KEY" in messages[0]
    assert "general_settings.master_key holds a literal key" in messages[1]
    assert "master_key: os.environ/LLMOPS_GW_MASTER_KEY" in messages[1]
    assert "api_base must be an http(s) URL" in messages[2]
    with pytest.raises(GatewayConfigError) as info:
        load_config({"model_list": [{"model_name": "chat",
                                     "litellm_params": {"model": "openai/x", "api_key": FAKE_KEY}}]})
    assert FAKE_KEY not in str(info.value) and FAKE_KEY not in repr(info.value.args)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert FAKE_KEY not in caplog.text


def test_yaml_text_instead_of_a_path_is_not_echoed():
    with pytest.raises(GatewayConfigError, match="spans several lines") as info:
        load_config(f"model_list:\n  - model_name: chat\n    litellm_params: {{api_key: {FAKE_KEY}}}\n")
    assert FAKE_KEY not in str(info.value)


def test_a_path_that_is_not_a_file(tmp_path):
    with pytest.raises(GatewayConfigError, match=r"the gateway config 'nope.yaml' does not exist \(looked for "):
        load_config("nope.yaml")
    with pytest.raises(GatewayConfigError, match="is a folder"):
        load_config(tmp_path)
    with pytest.raises(TypeError, match="not int"):
        load_config(3)  # type: ignore[arg-type]


# -- resolving references -----------------------------------------------------------------------------------
def test_resolve_from_the_environment(monkeypatch):
    monkeypatch.setenv("GW_TEST_KEY", FAKE_KEY)
    assert resolve_secret("os.environ/GW_TEST_KEY", None) == FAKE_KEY
    assert resolve_secret(None, None) is None
    monkeypatch.delenv("GW_TEST_KEY")
    with pytest.raises(GatewayConfigError, match=r"the environment variable GW_TEST_KEY is not set \(os.environ/"
                                                 r"GW_TEST_KEY in the gateway config\); set it before"):
        resolve_secret("os.environ/GW_TEST_KEY", None)
    monkeypatch.setenv("GW_TEST_KEY", "")
    with pytest.raises(GatewayConfigError, match="GW_TEST_KEY is empty"):
        resolve_secret("os.environ/GW_TEST_KEY", None)


def test_resolve_refuses_a_literal_without_showing_it():
    with pytest.raises(GatewayConfigError) as info:
        resolve_secret(FAKE_KEY, None)
    assert "os.environ/NAME or secrets/NAME" in str(info.value) and FAKE_KEY not in str(info.value)


@pytest.mark.parametrize(("name", "content"), [
    ("secrets.yaml", f"ANTHROPIC: {FAKE_KEY}\nOTHER: x\n"),
    ("secrets.json", json.dumps({"ANTHROPIC": FAKE_KEY, "OTHER": "x"})),
])
def test_resolve_from_the_secrets_file(tmp_path, name, content):
    path = write(tmp_path, content, name)
    assert resolve_secret("secrets/ANTHROPIC", str(path)) == FAKE_KEY
    with pytest.raises(GatewayConfigError) as info:
        resolve_secret("secrets/ANTROPIC", path)
    message = str(info.value)
    assert message == (f"the secrets file {path} has no 'ANTROPIC' (asked for by secrets/ANTROPIC); add a line "
                       f"'ANTROPIC: <the key>' to it. Did you mean 'ANTHROPIC'?")
    assert FAKE_KEY not in message


def test_secrets_file_errors_name_file_and_key_only(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(GatewayConfigError, match=r"the secrets file .*missing.yaml does not exist"):
        resolve_secret("secrets/A", "~/missing.yaml")
    write(tmp_path, f"A: 123\nB: [{FAKE_KEY}\n", "broken.yaml")
    with pytest.raises(GatewayConfigError, match="line 3 is not valid YAML") as info:
        resolve_secret("secrets/A", "~/broken.yaml")
    assert FAKE_KEY not in str(info.value)
    write(tmp_path, "A: 123\n", "numbers.yaml")
    with pytest.raises(GatewayConfigError, match=r"A must be a non-empty string \(quote it\); the value is not "
                                                 r"shown") as info:
        resolve_secret("secrets/A", "~/numbers.yaml")
    assert "123" not in str(info.value)
    with pytest.raises(GatewayConfigError, match=r"no secrets file is set; add general_settings\.secrets_file"):
        resolve_secret("secrets/A", None)


def test_a_changed_secrets_file_is_read_again(tmp_path):
    path = write(tmp_path, "A: first\n", "secrets.yaml")
    assert resolve_secret("secrets/A", path) == "first"
    path.write_text("A: the second one\n", encoding="utf-8")  # another size, so seen even within one mtime tick
    assert resolve_secret("secrets/A", path) == "the second one"


def test_the_config_secrets_file_resolves_home_and_references_resolve(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path, f"ANTHROPIC: {FAKE_KEY}\n", "secrets.yaml")
    config = load_config(write(tmp_path, FULL.replace("secrets_file: secrets.yaml", "secrets_file: ~/secrets.yaml")))
    assert config.secrets_file == str(tmp_path / "secrets.yaml")
    haiku = config.groups()["chat"][1]
    assert resolve_secret(haiku.api_key_ref, config.secrets_file) == FAKE_KEY
    assert FAKE_KEY not in repr(config)


def test_api_base_from_the_environment(monkeypatch):
    monkeypatch.setenv("GW_TEST_BASE", "http://127.0.0.1:9999/v1/")
    params = {"model": "openai/x", "api_base": "os.environ/GW_TEST_BASE"}
    config = load_config({"model_list": [{"model_name": "chat", "litellm_params": params}]})
    assert config.deployments[0].api_base == "http://127.0.0.1:9999/v1"
    monkeypatch.delenv("GW_TEST_BASE")
    with pytest.raises(GatewayConfigError, match=r"^model_list\[0\].litellm_params.api_base cannot be read: the "
                                                 r"environment variable GW_TEST_BASE is not set"):
        load_config({"model_list": [{"model_name": "chat", "litellm_params": params}]})


# -- fallbacks ----------------------------------------------------------------------------------------------
def _with_router(router: dict) -> dict:
    models = [{"model_name": name, "litellm_params": {"model": f"openai/{name}"}}
              for name in ("chat", "backup-chat", "long-chat")]
    return {"model_list": models, "router_settings": router}


def test_both_fallback_forms():
    listed = load_config(_with_router({"fallbacks": [{"chat": ["backup-chat"]}, {"long-chat": ["chat"]}]}))
    mapped = load_config(_with_router({"fallbacks": {"chat": ["backup-chat"], "long-chat": ["chat"]}}))
    assert listed.router.fallbacks == mapped.router.fallbacks == {"chat": ("backup-chat",), "long-chat": ("chat",)}
    several = load_config(_with_router({"fallbacks": [{"chat": ["long-chat", "backup-chat"], "long-chat": ["chat"]}]}))
    assert several.router.fallbacks["chat"] == ("long-chat", "backup-chat")


@pytest.mark.parametrize(("fallbacks", "expected"), [
    ([{"chta": ["backup-chat"]}], "router_settings.fallbacks[0].chta is not a model_name of model_list. Did you "
                                  "mean 'chat'? Fallbacks name model groups: backup-chat, chat, long-chat"),
    ({"chat": ["backup_chat"]}, "router_settings.fallbacks.chat[0] names 'backup_chat', not a model_name of "
                                "model_list. Did you mean 'backup-chat'?"),
    ({"chat": ["chat"]}, "router_settings.fallbacks.chat[0] names 'chat' again; each fallback is another "
                         "model_name, once"),
    ({"chat": ["backup-chat", "backup-chat"]}, "router_settings.fallbacks.chat[1] names 'backup-chat' again"),
    ({"chat": "backup-chat"}, "router_settings.fallbacks.chat must be a list ('- ' items, e.g. [backup-chat])"),
    ({"chat": []}, "router_settings.fallbacks.chat lists no fallback"),
    ([{"chat": ["backup-chat"]}, {"chat": ["long-chat"]}], "router_settings.fallbacks[1].chat is given twice; list "
                                                           "all of its fallbacks in one entry"),
    (["chat"], "router_settings.fallbacks[0] must be a mapping like {chat: [backup-chat]}, got str"),
    ("chat", "router_settings.fallbacks must be a list like [{chat: [backup-chat]}] or a mapping"),
])
def test_fallbacks_must_name_model_groups(fallbacks, expected):
    with pytest.raises(GatewayConfigError) as info:
        load_config(_with_router({"context_window_fallbacks": {}, "fallbacks": fallbacks}))
    assert str(info.value).startswith(expected)


def test_fallback_errors_in_a_file_have_lines(tmp_path):
    text = one_deployment("model: openai/gpt-4o\n") + "router_settings:\n  fallbacks:\n    - chat: [chta]\n"
    assert config_error(tmp_path, text).startswith("gateway.yaml line 7: router_settings.fallbacks[0].chat[0] "
                                                   "names 'chta'")


# -- budget windows -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("written", "window"), [
    ("daily", "daily"), ("1d", "daily"), ("24h", "daily"), ("weekly", "weekly"), ("7d", "weekly"),
    ("1w", "weekly"), ("monthly", "monthly"), ("30d", "monthly"), ("1mo", "monthly"), (" Daily ", "daily"),
])
def test_budget_duration_aliases(written, window):
    rule = {"scope": "user", "id": "alice", "max_budget": 1, "budget_duration": written}
    assert load_config({**MINIMAL, "budgets": [rule]}).budgets[0].window == window


@pytest.mark.parametrize("written", ["2d", "hourly", "1y", 7, None])
def test_other_durations_are_refused(written):
    rule = {"scope": "user", "id": "alice", "max_budget": 1, "budget_duration": written}
    with pytest.raises(GatewayConfigError, match=r"^budgets\[0\]"):
        load_config({**MINIMAL, "budgets": [rule]})


# -- the dict form ------------------------------------------------------------------------------------------
def test_dict_errors_name_the_path_without_a_line():
    bad = {"model_list": [MINIMAL["model_list"][0],
                          {"model_name": "chat", "litellm_params": {"model": "openai/x", "rpm": "fast"}}]}
    with pytest.raises(GatewayConfigError) as info:
        load_config(bad)
    assert str(info.value) == "model_list[1].litellm_params.rpm must be a positive integer, got 'fast'"
    with pytest.raises(GatewayConfigError, match=r"^general_settings.database_url is a LiteLLM setting not supported"):
        load_config({**MINIMAL, "general_settings": {"database_url": "x"}})
    with pytest.raises(TypeError, match="takes the path of a YAML file or a dict, not list"):
        load_config([])  # type: ignore[arg-type]
    with pytest.raises(GatewayConfigError, match=r"^the config has a key that is not a setting name: 0; names are "
                                                 r"words like model_list"):
        load_config({0: 1})  # type: ignore[dict-item]


def test_dict_paths_stay_as_written_and_megabytes_are_accepted():
    config = load_config({**MINIMAL, "general_settings": {"secrets_file": "s.yaml", "store": "ducklake:postgres:x",
                                                          "max_request_size_mb": 2}})
    assert (config.secrets_file, config.store, config.max_request_bytes) == ("s.yaml", "ducklake:postgres:x",
                                                                             2 * 1024 * 1024)


def test_litellm_settings_are_ignored_with_one_warning(tmp_path, caplog):
    text = one_deployment("model: openai/gpt-4o\n") + "litellm_settings:\n  drop_params: true\n  callbacks: [x]\n"
    write(tmp_path, text)
    os.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="llmops_nb.gateway"):
        config = load_config("gateway.yaml")
    (record,) = caplog.records
    assert record.getMessage() == ("gateway.yaml line 5: ignored litellm_settings (drop_params, callbacks): they "
                                   "configure the LiteLLM library, which llmops_nb's gateway does not run")
    assert config.deployments[0].model == "gpt-4o"


# -- the errors --------------------------------------------------------------------------------------------
def test_every_gateway_error_is_an_llmops_error_with_a_status():
    expected = {GatewayConfigError: 500, GatewayAuthError: 401, GatewayForbiddenError: 403,
                GatewayRequestTooLarge: 413, BudgetExceededError: 429, GatewayRateLimitError: 429,
                NoDeploymentError: 503, UnknownModelError: 404}
    for cls, status in expected.items():
        assert issubclass(cls, GatewayError) and issubclass(cls, LlmopsError) and cls.status == status
    assert issubclass(GatewayConfigError, ValueError) and issubclass(UnknownModelError, LookupError)
    error = GatewayAuthError("no key: send Authorization: Bearer <key>")
    assert error.openai_body() == {"error": {"message": "no key: send Authorization: Bearer <key>",
                                             "type": "invalid_request_error", "code": "invalid_api_key",
                                             "param": None}}
    assert error.anthropic_body() == {"type": "error", "error": {"type": "authentication_error",
                                                                 "message": "no key: send Authorization: Bearer <key>"}}
    forbidden = GatewayForbiddenError("key 'k' may not use 'gpt-4o'", code="model_not_allowed")
    assert forbidden.code == "model_not_allowed" and forbidden.anthropic_body()["error"]["type"] == "permission_error"
    too_large = GatewayRequestTooLarge(5_000_000, 4_194_304)
    assert "5,000,000 bytes, over this gateway's limit of 4,194,304" in too_large.message
    assert too_large.anthropic_body()["error"]["type"] == "request_too_large"


def test_budget_exceeded():
    error = BudgetExceededError("team", "ml", max_budget=5.0, spent=4.98, reserved=0.04, window="daily",
                                resets_at=datetime(2026, 12, 7, tzinfo=timezone.utc))
    assert str(error) == ("budget exceeded for team 'ml': spent $4.98 + this request's reserved $0.040 would "
                          "pass the daily budget of $5.00; it resets at 2026-12-07T00:00:00Z")
    assert (error.status, error.scope, error.scope_id, error.window) == (429, "team", "ml", "daily")
    assert error.headers == {"x-should-retry": "false"}  # SDKs would retry a 429 in vain
    body = error.openai_body()["error"]
    assert body["type"] == body["code"] == "budget_exceeded"
    assert {k: body[k] for k in ("scope", "scope_id", "max_budget", "spent", "window", "resets_at")} == {
        "scope": "team", "scope_id": "ml", "max_budget": 5.0, "spent": 4.98, "window": "daily",
        "resets_at": "2026-12-07T00:00:00Z"}
    assert error.anthropic_body()["error"]["type"] == "rate_limit_error"
    # a naive datetime is taken as UTC; another zone is converted
    later = BudgetExceededError("key", "key_1", max_budget=1, spent=1.2, window="monthly",
                                resets_at=datetime(2027, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    assert "spent $1.20 has reached the monthly budget of $1.00; it resets at 2027-01-01T00:00:00Z" in str(later)
    small = BudgetExceededError("user", "u", max_budget=0.004, spent=0.0039, reserved=0.0002, window="total",
                                resets_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc))
    assert "the total budget of $0.0040; it never resets" in str(small)


def test_rate_limit_sets_retry_after():
    error = GatewayRateLimitError("user", "alice", limit_name="rpm", limit=60, retry_after=11.2,
                                  resets_at=datetime(2026, 12, 6, 12, 0, 12))
    assert error.headers == {"Retry-After": "12"}
    assert str(error) == ("rate limit exceeded for user 'alice': 60 requests per minute (rpm); retry after 12 s "
                          "(2026-12-06T12:00:12Z)")
    assert error.openai_body()["error"]["code"] == "rate_limit_exceeded"
    soon = GatewayRateLimitError("team", "ml", limit_name="tpm", limit=100_000,
                                 resets_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    assert soon.headers["Retry-After"] == "1" and "100,000 tokens per minute (tpm)" in str(soon)


def test_no_deployment_lists_attempts():
    error = NoDeploymentError("chat", [("primary-openai", "429 rate limited"), ("chat#1", f"401 bad key {FAKE_KEY}")],
                              retry_after=7.5)
    assert str(error).startswith("no deployment of 'chat' could answer (primary-openai: 429 rate limited; chat#1: "
                                 "401 bad key [redacted]); all are cooling down, the first is back in 8 s")
    assert error.headers == {"Retry-After": "8"} and error.status == 503
    assert error.openai_body()["error"]["attempts"][0] == {"deployment": "primary-openai",
                                                           "reason": "429 rate limited"}
    assert NoDeploymentError("chat", []).headers == {}
    assert error.anthropic_body()["error"]["type"] == "overloaded_error"


def test_unknown_model_says_did_you_mean():
    error = UnknownModelError("chta", ["chat", "backup-chat"])
    assert str(error) == "no model named 'chta' on this gateway. Did you mean 'chat'? Use one of: backup-chat, chat"
    assert error.openai_body()["error"]["code"] == "model_not_found"
    assert error.anthropic_body()["error"]["type"] == "not_found_error"
    assert "the request names no model; set model to one of: chat" == str(UnknownModelError("", ["chat"]))
    assert "none is available to this key" in str(UnknownModelError("x", []))


def test_upstream_error_passes_status_and_message_redacted():
    failure = UpstreamFailure("client", f"Incorrect API key provided: {FAKE_KEY}", status=401,
                              body={"error": {"message": "…", "type": "invalid_request_error",
                                              "code": "invalid_api_key"}})
    error = UpstreamError.from_failure(failure, deployment="primary-openai")
    assert (error.status, error.error_type, error.code, error.deployment) == (
        401, "invalid_request_error", "invalid_api_key", "primary-openai")
    assert FAKE_KEY not in str(error) and "Incorrect API key provided" in str(error)
    timeout = UpstreamError.from_failure(UpstreamFailure("timeout", "no answer in 30 s", retry_after=2))
    assert (timeout.status, timeout.headers) == (504, {"Retry-After": "2"})
    assert UpstreamError(529, "Overloaded").anthropic_body() == {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded"}}
