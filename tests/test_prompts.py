"""The prompt registry on a real DuckDB file: versions, dedupe, load/URIs, aliases, rollback, frames, errors."""

from __future__ import annotations

import pytest

from llmops_nb import prompts
from llmops_nb.prompts import PromptFormatError, PromptNotFoundError

CHAT = [{"role": "system", "content": "You are {{persona}}."}, {"role": "user", "content": "{{question}}"}]


def test_register_numbers_versions_and_keeps_them_immutable():
    v1 = prompts.register("qa", "Answer briefly: {{question}}", commit_message="first",
                          tags={"task": "qa"}, model_config={"temperature": 0.2}, author="ana")
    v2 = prompts.register("qa", CHAT, commit_message="chat form")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.uri == "prompts:/qa/1" and v1.prompt_type == "text" and v1.is_text_prompt
    assert v2.prompt_type == "chat" and v2.variables == ["persona", "question"]
    assert v1.author == "ana" and v1.tags == {"task": "qa"} and v1.model_config == {"temperature": 0.2}
    assert v1.created_at is not None and v1.created_at.tzinfo is not None
    v2.template[0]["content"] = "mutated"  # a copy: the version itself cannot change
    assert prompts.load("qa", version=2).template == CHAT
    with pytest.raises(AttributeError):
        v1.version = 5


def test_identical_content_returns_the_latest_version_not_a_duplicate():
    v1 = prompts.register("dedupe", "Hi {{name}}", commit_message="one")
    again = prompts.register("dedupe", "Hi {{name}}", commit_message="a different message")
    assert again.version == 1 and again.commit_message == "one"
    assert prompts.register("dedupe", "Hi {{name}}", tags={"x": "1"}).version == 2  # tags are content
    assert prompts.register("dedupe", "Hi {{name}}").version == 3  # equal to v1, but not to the latest
    assert len(prompts.versions("dedupe")) == 3 and v1.version == 1


def test_load_by_version_alias_uri_and_shorthand():
    for text in ("a {{x}}", "b {{x}}", "c {{x}}"):
        prompts.register("p", text)
    prompts.set_alias("p", "production", 2)
    assert prompts.load("p").version == 3
    assert prompts.load("p", version=1).version == 1
    assert prompts.load("p", alias="production").version == 2
    assert prompts.load("prompts:/p/1").template == "a {{x}}"
    assert prompts.load("prompts:/p@production").version == 2
    assert prompts.load("prompts:/p@latest").version == 3
    assert prompts.load("p@production").version == 2 and prompts.load("p/1").version == 1
    assert prompts.load("p@2").version == 2
    assert prompts.load("p", version=2).aliases == ("production",)


def test_format_text_and_chat_naming_missing_and_unexpected_variables():
    text = prompts.register("fmt", "Q: {{ question }} in {{lang}}")
    assert text.format(question="why", lang="en") == "Q: why in en"
    chat = prompts.register("fmt-chat", CHAT)
    assert chat.format(persona="a pirate", question="Where?") == [
        {"role": "system", "content": "You are a pirate."}, {"role": "user", "content": "Where?"}]
    with pytest.raises(PromptFormatError) as info:
        text.format(question="why", language="en")
    message = str(info.value)
    assert "missing lang" in message and "unexpected language" in message
    assert "format(question=..., lang=...)" in message
    with pytest.raises(PromptFormatError, match="missing persona"):
        chat.format(question="x")


def test_aliases_move_and_every_move_is_recorded_with_who_and_when():
    for text in ("v1", "v2", "v3"):
        prompts.register("rb", text)
    prompts.set_alias("rb", "production", 1, author="ana")
    prompts.set_alias("rb", "production", 3, author="bo")
    prompts.set_alias("rb", "staging", 2, author="bo")
    assert prompts.set_alias("rb", "production", "staging", author="cy").version == 2  # promote
    assert prompts.set_alias("rb", "production", 2).version == 2  # no move: not recorded
    back = prompts.rollback("rb", "production", author="dee")
    assert back.version == 3 and back.aliases == ("production",)
    assert prompts.rollback("rb", "production", to=1).version == 1
    prompts.delete_alias("rb", "staging", author="eve")
    history = prompts.alias_history("rb")
    rows = [(r.alias, r.action, None if r.from_version is None or str(r.from_version) == "<NA>" else
             int(r.from_version), None if str(r.to_version) == "<NA>" else int(r.to_version), r.author)
            for r in history.itertuples()]
    assert rows[:5] == [("production", "set", None, 1, "ana"), ("production", "set", 1, 3, "bo"),
                        ("staging", "set", None, 2, "bo"), ("production", "set", 3, 2, "cy"),
                        ("production", "set", 2, 3, "dee")]
    assert rows[5][:4] == ("production", "set", 3, 1)
    assert rows[6] == ("staging", "delete", 2, None, "eve")
    assert history.changed_at.is_monotonic_increasing
    assert list(prompts.alias_history("rb", "staging").action) == ["set", "delete"]
    with pytest.raises(PromptNotFoundError, match="no alias 'staging'"):
        prompts.load("rb", alias="staging")


def test_author_defaults_to_the_environment_or_login(monkeypatch):
    monkeypatch.setenv("LLMOPS_NB_AUTHOR", "ci-bot")
    assert prompts.register("who", "x").author == "ci-bot"
    monkeypatch.delenv("LLMOPS_NB_AUTHOR")
    import getpass

    assert prompts.register("who", "y").author == getpass.getuser()


def test_list_search_and_versions_frames():
    prompts.register("alpha", "Summarize {{text}}", tags={"team": "docs"})
    prompts.register("alpha", "Summarize in one line: {{text}}", commit_message="shorter")
    prompts.register("beta", CHAT, tags={"team": "support"})
    prompts.set_alias("alpha", "production", 1)
    listing = prompts.list()
    assert list(listing.name) == ["alpha", "beta"]
    alpha = listing.set_index("name").loc["alpha"]
    assert (alpha.latest_version, alpha.versions, alpha.aliases) == (2, 2, {"production": 1})
    assert alpha.latest_commit_message == "shorter"
    versions = prompts.versions("alpha")
    assert list(versions.version) == [2, 1] and versions.aliases.tolist() == [[], ["production"]]
    assert versions.variables.tolist() == [["text"], ["text"]] and versions.uri.tolist()[0] == "prompts:/alpha/2"
    assert versions.commit_message.tolist() == ["shorter", None]
    assert set(prompts.search("one line").uri) == {"prompts:/alpha/2"}
    assert set(prompts.search(tag="team=support").name) == {"beta"}
    assert set(prompts.search(name="a*", latest_only=True).version) == {2}
    assert len(prompts.search("nothing like this")) == 0
    assert prompts.list().empty is False


def test_concurrent_alias_moves_in_threads_stay_consistent():
    import concurrent.futures

    for i in range(5):
        prompts.register("threads", f"v{i}")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: prompts.set_alias("threads", "production", i % 5 + 1), range(40)))
    history = prompts.alias_history("threads", "production")
    froms, tos = history.from_version.tolist()[1:], history.to_version.tolist()[:-1]
    assert froms == tos  # each move starts where the previous one ended
    assert prompts.load("threads@production").version == history.to_version.tolist()[-1]


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: prompts.load("prompts:/qa"), ValueError, "needs a version or an alias"),
    (lambda: prompts.load("prompts:/qa/x"), ValueError, "not a version number"),
    (lambda: prompts.load("prompts:/qa@"), ValueError, "Malformed"),
    (lambda: prompts.load("mlflow:/qa/1"), ValueError, "Malformed"),
    (lambda: prompts.load("prompts:/q a/1"), ValueError, "Malformed"),
    (lambda: prompts.load("known", version=9), PromptNotFoundError, "versions are 1 to 1"),
    (lambda: prompts.load("knwon"), PromptNotFoundError, "Did you mean 'known'"),
    (lambda: prompts.load("known", alias="prod"), PromptNotFoundError, "no alias 'prod'"),
    (lambda: prompts.load("known@production", version=1), ValueError, "already names a version"),
    (lambda: prompts.load("known", version=1, alias="x"), ValueError, "not both"),
    (lambda: prompts.register("known", ["just text"]), TypeError, "must be a dict"),
    (lambda: prompts.register("known", [{"role": "user", "content": 3}]), TypeError, "'content' must be a string"),
    (lambda: prompts.register("known", [{"role": "user"}]), ValueError, "missing content"),
    (lambda: prompts.register("known", [{"role": "user", "content": "x", "name": "n"}]), ValueError,
     "unexpected name"),
    (lambda: prompts.register("known", 42), TypeError, "string or a list"),
    (lambda: prompts.register("known", "  "), ValueError, "empty"),
    (lambda: prompts.register("bad/name", "x"), ValueError, "Bad prompt name"),
    (lambda: prompts.register("known", "x", tags={"a": {"b": 1}}), TypeError, "Tag 'a'"),
    (lambda: prompts.register("known", "x", model_config={"f": object()}), TypeError, "JSON values"),
    (lambda: prompts.set_alias("known", "latest", 1), ValueError, "'latest' always means"),
    (lambda: prompts.set_alias("known", "3", 1), ValueError, "Bad alias"),
    (lambda: prompts.set_alias("known", "prod", 7), PromptNotFoundError, "no version 7"),
    (lambda: prompts.delete_alias("known", "prod"), PromptNotFoundError, "no alias 'prod'"),
    (lambda: prompts.rollback("known", "production"), PromptNotFoundError, "never set"),
    (lambda: prompts.versions("unknwn"), PromptNotFoundError, "No prompt named 'unknwn'"),
    (lambda: prompts.search(tag="novalue"), ValueError, "KEY=VALUE"),
])
def test_bad_input_gets_a_clear_error(call, error, match):
    prompts.register("known", "the {{thing}}")
    with pytest.raises(error, match=match):
        call()


def test_rollback_of_an_alias_set_once_names_the_fix():
    prompts.register("once", "x")
    prompts.set_alias("once", "production", 1)
    with pytest.raises(PromptNotFoundError, match=r"to=VERSION"):
        prompts.rollback("once", "production")


def test_rich_display_escapes_template_content():
    version = prompts.register("xss", "<script>alert(1)</script> {{q}}", commit_message="<b>bold</b>")
    bundle = version._repr_mimebundle_()
    assert "<script>" not in bundle["text/html"] and "&lt;script&gt;" in bundle["text/html"]
    assert "&lt;b&gt;bold" in bundle["text/html"] and "xss v1" in bundle["text/plain"]
    assert "prompts:/xss/1" in repr(version)
