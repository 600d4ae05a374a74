"""Writing files so that a reader (a mailer, a download, a crash) never sees half of one.

Everything duban writes — documents, charts, the file drop, exports, backups, the audit export —
goes through ``replacing``: the bytes go to a temporary file beside the target, which takes the
target's name only when the writing succeeded (os.replace is atomic on one file system).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it becomes ``path``, on failure it is removed."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield temp
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to ``path`` atomically; return the path."""
    with replacing(path) as temp:
        if isinstance(data, str):
            temp.write_text(data, encoding="utf-8")
        else:
            temp.write_bytes(data)
    return path
