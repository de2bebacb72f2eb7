"""Writing several files as one change: all of them, or none."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_all_or_nothing"]


def write_all_or_nothing(files: dict[Path, str]) -> None:
    """Writes every file, or leaves every target as it was and no temporary file behind.

    Each text goes to a temporary sibling first. Only when all are written are the targets
    replaced, each old target kept aside until the last rename succeeds, so a failure (or Ctrl-C)
    half-way puts the old ones back: a reader never sees a new plan.json beside an old plan.md.

    Raises:
        ValueError: two entries name the same file.
        OSError: a target exists and is not a regular file (a device, a FIFO, a directory: replacing
            it would destroy it), or a file could not be written; no target was touched.
    """
    targets = [Path(os.path.abspath(path)) for path in files]
    if len({t.resolve() for t in targets}) != len(targets):
        raise ValueError(f"the same file is named twice: {', '.join(str(p) for p in files)}")
    staged: list[tuple[Path, Path]] = []
    kept: list[tuple[Path, Path]] = []
    done = False
    try:
        for target in targets:
            if (target.exists() and not target.is_file()) or (target.is_symlink() and not target.exists()):
                raise OSError(f"{target}: exists and is not a regular file; name a file to write the plan to")
        mode = _file_mode()
        for target, text in zip(targets, files.values(), strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            staged.append((Path(name), target))
            os.fchmod(fd, mode)  # mkstemp creates 0600; a plan is an ordinary file
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        for _, target in staged:
            if target.exists():
                fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old")
                os.close(fd)
                os.replace(target, name)
                kept.append((Path(name), target))
        for tmp, target in staged:
            os.replace(tmp, target)
        done = True
    finally:
        if not done:
            for tmp, target in staged:
                if not tmp.exists():  # already renamed onto its target: undo that
                    target.unlink(missing_ok=True)
                tmp.unlink(missing_ok=True)
            for old, target in kept:
                os.replace(old, target)
        else:
            for old, _ in kept:
                old.unlink(missing_ok=True)


def _file_mode() -> int:
    """0666 less the process umask, as ``open()`` would create the file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
