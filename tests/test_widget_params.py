"""Request params bound to a handler's keyword-only signature (``widgets/_params``): checked before it runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest

from llmops_nb.widgets._params import bind, check_range


def handler(*, name: str, limit: int = 10, ratio: float = 0.5, on: bool = False, tags: list[str] | None = None,
            filters: dict[str, Any] | None = None, mode: Literal["a", "b"] = "a",
            ref: Annotated[int | str | None, "a version number or an alias"] = None) -> dict[str, Any]:
    return {"name": name, "limit": limit, "ratio": ratio, "on": on, "tags": tags, "filters": filters, "mode": mode,
            "ref": ref}


page = bind("page", handler)


def test_params_reach_the_handler_as_keywords():
    assert page({"name": "x", "limit": 3, "ratio": 1, "tags": ["a"], "filters": {}, "mode": "b", "ref": "prod"}) == {
        "name": "x", "limit": 3, "ratio": 1, "on": False, "tags": ["a"], "filters": {}, "mode": "b", "ref": "prod"}


@pytest.mark.parametrize(("params", "message"), [
    ({}, "page needs name (text)."),
    ({"name": "x", "limt": 3}, "unknown page parameter(s) 'limt'. Did you mean 'limit'? page takes name, limit"),
    ({"name": 3}, "name must be text; got 3."),
    ({"name": "x", "limit": True}, "limit must be an integer; got True."),
    ({"name": "x", "limit": 1.5}, "limit must be an integer; got 1.5."),
    ({"name": "x", "ratio": "1"}, "ratio must be a number; got '1'."),
    ({"name": "x", "on": 1}, "on must be true or false; got 1."),
    ({"name": "x", "tags": ["a", 2]}, "tags must be a list (text each) or null; got ['a', 2]."),
    ({"name": "x", "filters": []}, "filters must be an object or null; got []."),
    ({"name": "x", "mode": "c"}, "mode must be one of 'a', 'b'; got 'c'."),
    ({"name": "x", "ref": 1.5}, "ref must be a version number or an alias; got 1.5."),
])
def test_bad_params_are_named_with_what_they_must_be(params, message):
    with pytest.raises(ValueError) as caught:
        page(params)
    assert str(caught.value).startswith(message), str(caught.value)


def test_a_handler_must_take_keyword_only_parameters():
    with pytest.raises(TypeError, match="keyword-only"):
        bind("old", lambda params: params)


def test_check_range():
    assert check_range(5, "offset", 0) == 5
    with pytest.raises(ValueError, match="limit must be an integer between 1 and 10; got 11"):
        check_range(11, "limit", 1, 10)
    with pytest.raises(ValueError, match="at least 0"):
        check_range(True, "offset", 0)
