"""Atomic writes (nqs_dilated.files): whole or nothing, with ordinary permissions."""

import os

import pytest

from nqs_dilated.files import atomic_path, write_atomic


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_permissions_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "a.json", "{}\n")
        write_atomic(tmp_path / "sub" / "b.bin", b"\x00\x01")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").read_text() == "{}\n"
    assert (tmp_path / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    for p in (tmp_path / "a.json", tmp_path / "sub" / "b.bin"):
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    write_atomic(target, "old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_replaces_an_existing_file(tmp_path):
    target = tmp_path / "x.txt"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two" and len(list(tmp_path.iterdir())) == 1


def test_umask_read_with_and_without_proc(monkeypatch):
    import builtins

    from nqs_dilated import files

    old = os.umask(0o027)
    try:
        assert files._umask() == 0o027
        real_open = builtins.open

        def no_proc(path, *args, **kwargs):
            if str(path).startswith("/proc"):
                raise OSError("no /proc here")
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", no_proc)
        assert files._umask() == 0o027
    finally:
        os.umask(old)
    assert os.umask(old) == old  # restored by the fallback
