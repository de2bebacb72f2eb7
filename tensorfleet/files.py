"""Writing several files as one change: all of them, or none."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_all_or_nothing"]


def write_all_or_nothing(files: dict[Path, str]) -> None:
    """Writes each file to a temporary sibling first and renames them only when all were written.

    Raises:
        OSError: a file could not be written; no target was touched.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for target, text in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            staged.append((Path(name), target))
    except OSError:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, target in staged:
        tmp.replace(target)
