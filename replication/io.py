"""Atomic writes: a reader sees the old file or the new one, never half of one; a set of files is written
all or none (:func:`write_texts_atomic`). Every file and folder written atomically gets the mode a plain
``open()`` / ``mkdir()`` would give it (0666 / 0777 less the umask), not the 0600 / 0700 of its temporary."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def usual_mode(folder: bool = False) -> int:
    """The mode ``open()`` gives a new file (``mkdir()`` a new folder): 0666 (0777) less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


def give_usual_modes(root: Path) -> None:
    """Give ``root`` and everything under it the usual mode (:func:`usual_mode`; a file with an execute bit
    keeps execute bits): for a temporary folder, and the files libraries write into it, before it is moved
    into place (``mkdtemp`` makes 0700, and some writers, e.g. safetensors', 0600)."""
    root = Path(root)
    file_mode, folder_mode = usual_mode(), usual_mode(folder=True)
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            os.chmod(path, folder_mode)
        else:
            os.chmod(path, folder_mode if path.stat().st_mode & 0o111 else file_mode)


def _staged(path: Path, data: str | bytes) -> Path:
    """``data`` in a temporary file beside ``path`` (synced, usual permissions), not yet moved into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, usual_mode())  # mkstemp creates 0600
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def writable_dir_problem(path: Path) -> str | None:
    """Why files cannot be written under the folder ``path`` (made if absent), or ``None``; creates nothing.

    The nearest existing ancestor must be a writable folder: a path that is a file, or lies under one, or
    under a read-only folder, is named with the reason."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        return f"{path} is a file, not a folder"
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        return f"{path} lies under {existing}, which is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable" + ("" if existing == path else f" (needed to make {path})")
    return None


def write_texts_atomic(files: dict[Path, str | bytes]) -> None:
    """Write every ``path: text`` (or bytes) or none: all are staged in temporary files first (a failure there removes
    them and leaves every path as it was), then each is moved into place with ``os.replace``."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in files.items():
            staged.append((_staged(Path(path), text), Path(path)))
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and ``os.replace``."""
    write_texts_atomic({Path(path): text})


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and ``os.replace``."""
    write_texts_atomic({Path(path): data})


def json_text(obj: Any) -> str:
    """The JSON the suite writes: sorted keys, indented, NaN and infinity refused (``ValueError``)."""
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json_text(obj))


def save_figure_atomic(path: Path, save: Callable[[Path], None]) -> None:
    """Call ``save(tmp_path)`` then move the file into place (matplotlib's ``savefig`` is not atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
