"""Atomic writes keep the usual file mode: what a plain ``open()`` / ``mkdir()`` gives (0666 / 0777 less the
umask), not the 0600 / 0700 of ``mkstemp`` / ``mkdtemp`` or of a library that writes 0600 (safetensors)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from replication.cache import cached_dir
from replication.io import write_bytes_atomic, write_json_atomic, write_text_atomic, write_texts_atomic
from replication.results import write_arrays
from replication.tinylm.config import atomic_output_dir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _private(path: Path) -> None:
    """A file written as safetensors writes it: 0600, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"weights")
    os.close(fd)


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_atomic_files_get_the_mode_open_gives(tmp_path: Path, umask: int) -> None:
    with open(tmp_path / "plain.txt", "w") as fh:
        fh.write("x")
    write_text_atomic(tmp_path / "a.txt", "x")
    write_bytes_atomic(tmp_path / "b.bin", b"x")
    write_json_atomic(tmp_path / "sub" / "c.json", {"x": 1})
    write_texts_atomic({tmp_path / "d.txt": "x", tmp_path / "e.txt": b"x"})
    write_arrays(tmp_path / "f.npz", {"x": [1.0]})
    want = 0o666 & ~umask
    assert _mode(tmp_path / "plain.txt") == want
    assert {p.name: _mode(p) for p in tmp_path.rglob("*") if p.is_file()} == {
        n: want for n in ("plain.txt", "a.txt", "b.bin", "c.json", "d.txt", "e.txt", "f.npz")}


def test_a_stage_output_dir_gets_usual_modes(tmp_path: Path, umask: int) -> None:
    with atomic_output_dir(tmp_path / "lm") as tmp:
        _private(tmp / "model.safetensors")
        (tmp / "nested").mkdir(mode=0o700)
        write_text_atomic(tmp / "nested" / "metrics.json", "{}")
    out = tmp_path / "lm"
    assert _mode(out) == _mode(out / "nested") == 0o777 & ~umask
    assert _mode(out / "model.safetensors") == _mode(out / "nested" / "metrics.json") == 0o666 & ~umask


def test_a_cache_entry_gets_usual_modes(tmp_path: Path, umask: int) -> None:
    def build(d: Path) -> None:
        (d / "final").mkdir()
        _private(d / "final" / "sae_weights.safetensors")

    entry = cached_dir("kind", {"a": 1}, build, root=tmp_path)
    assert _mode(entry) == _mode(entry / "final") == 0o777 & ~umask
    assert {_mode(p) for p in entry.rglob("*") if p.is_file()} == {0o666 & ~umask}
