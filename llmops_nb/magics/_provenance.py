"""Where a trace came from: cell execution count, a hash of its source, the kernel session."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

_PROCESS_SESSION = uuid.uuid4().hex


def kernel_session(shell: Any) -> str:
    kernel = getattr(shell, "kernel", None)
    session = getattr(getattr(kernel, "session", None), "session", None)
    return str(session) if session else _PROCESS_SESSION


def cell_info(shell: Any, source: str, execution_count: int | None) -> dict[str, Any]:
    return {
        "execution_count": execution_count,
        "source_sha256": hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest(),
        "kernel_session": kernel_session(shell),
        "process_id": os.getpid(),
    }
