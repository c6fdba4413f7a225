"""One display registry (``llmops_nb._display``): traces, evaluation results and prompt diffs by kind."""

from __future__ import annotations

import pytest

import llmops_nb
from llmops_nb import _display
from llmops_nb._trace import Trace


@pytest.fixture
def trace() -> Trace:
    with llmops_nb.span("shown", kind="CHAIN") as root:
        pass
    llmops_nb.flush()
    return Trace(root.trace_id)


def test_a_registered_renderer_replaces_the_default_until_it_is_removed(trace):
    assert trace._repr_mimebundle_() == _display.summary_bundle(trace)
    _display.register(_display.TRACE, lambda t: {"text/plain": f"custom {t.trace_id}"})
    try:
        assert trace._repr_mimebundle_() == {"text/plain": f"custom {trace.trace_id}"}
        _display.register(_display.TRACE, lambda t: None)  # a renderer with nothing to show: the default
        assert trace._repr_mimebundle_() == _display.summary_bundle(trace)
    finally:
        _display.register(_display.TRACE, None)
    assert _display.renderer(_display.TRACE) is None


def test_unknown_kinds_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown display kind 'traces'; kinds: trace, evaluation, prompt_diff"):
        _display.register("traces", print)


def test_announce_shows_nothing_without_a_renderer_or_while_muted_and_never_raises():
    seen = []
    _display.announce(_display.EVALUATION, "nobody listens")
    _display.register(_display.EVALUATION, lambda obj: seen.append(obj) or None)
    try:
        with _display.muted(_display.EVALUATION):
            _display.announce(_display.EVALUATION, "muted")
        _display.announce(_display.EVALUATION, "shown")
        _display.register(_display.EVALUATION, lambda obj: 1 / 0)
        _display.announce(_display.EVALUATION, "broken")  # logged once, not raised
    finally:
        _display.register(_display.EVALUATION, None)
    assert seen == ["shown"]
