"""plan.json and plan.md are written as a pair or not at all."""

from __future__ import annotations

import os

import pytest

from tensorfleet import files
from tensorfleet.files import write_all_or_nothing


def _old_pair(tmp_path):
    a, b = tmp_path / "plan.json", tmp_path / "plan.md"
    a.write_text("old json")
    b.write_text("old md")
    return a, b


def test_writes_both(tmp_path):
    a, b = tmp_path / "out" / "plan.json", tmp_path / "out" / "plan.md"
    write_all_or_nothing({a: "new json", b: "new md"})
    assert (a.read_text(), b.read_text()) == ("new json", "new md")
    assert sorted(p.name for p in a.parent.iterdir()) == ["plan.json", "plan.md"]


def test_the_same_file_twice_is_refused(tmp_path):
    a, _ = _old_pair(tmp_path)
    link = tmp_path / "link.json"
    link.symlink_to(a)
    for other in (link, tmp_path / "sub" / ".." / "plan.json"):
        with pytest.raises(ValueError, match="named twice"):
            write_all_or_nothing({a: "x", other: "y"})
    assert a.read_text() == "old json"


def test_an_unwritable_target_touches_nothing(tmp_path):
    a, _ = _old_pair(tmp_path)
    with pytest.raises(OSError):
        write_all_or_nothing({a: "new json", tmp_path: "new md"})
    assert a.read_text() == "old json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json", "plan.md"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_between_the_renames_restores_the_old_pair(tmp_path, monkeypatch, failure):
    a, b = _old_pair(tmp_path)
    real_replace = os.replace
    renamed_onto_targets: list[str] = []

    def flaky_replace(src, dst):
        if str(dst) in (str(a), str(b)) and str(src).endswith(".tmp"):
            if renamed_onto_targets:
                raise failure
            renamed_onto_targets.append(str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", flaky_replace)
    with pytest.raises(type(failure)):
        write_all_or_nothing({a: "new json", b: "new md"})
    assert renamed_onto_targets == [str(a)]  # the first target had already been replaced
    assert (a.read_text(), b.read_text()) == ("old json", "old md")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json", "plan.md"]


def test_a_device_or_fifo_is_never_replaced(tmp_path):
    """`--json /dev/null` must not replace the device (a FIFO stands in for it here: the test must
    not be able to damage the machine that runs it)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="exists and is not a regular file"):
        write_all_or_nothing({fifo: "x", tmp_path / "plan.md": "y"})
    assert fifo.exists() and not fifo.is_file()
    assert not (tmp_path / "plan.md").exists()


def test_files_get_the_usual_permissions(tmp_path):
    target = tmp_path / "plan.json"
    write_all_or_nothing({target: "x"})
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
