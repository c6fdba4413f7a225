"""The public surface: small, sorted, and cheap to import."""

import json
import subprocess
import sys

import llmops_nb


def test_all_is_sorted_and_resolvable():
    assert llmops_nb.__all__ == sorted(llmops_nb.__all__)
    for name in llmops_nb.__all__:
        assert getattr(llmops_nb, name) is not None, name


def test_import_does_not_load_heavy_dependencies():
    code = ("import sys, json, llmops_nb\n"
            "print(json.dumps([m for m in ('pandas', 'duckdb', 'IPython', 'pyarrow', 'openai', 'anthropic') "
            "if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_unknown_attribute_is_a_clear_error():
    try:
        llmops_nb.tracez
    except AttributeError as exc:
        assert "tracez" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_configure_rejects_unknown_settings_with_a_hint():
    import pytest

    with pytest.raises(TypeError, match="flush_interval"):
        llmops_nb.configure(flush_intervall=0.1)
    with pytest.raises(ValueError, match=r"\(0, 1.0\]"):
        llmops_nb.configure(flush_interval=5)
