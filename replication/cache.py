"""On-disk cache of expensive artefacts (trained toy SAEs, activations), keyed by a configuration's hash.

``cached_dir("toy-sae", config, build)`` returns ``<root>/toy-sae/<hash>``: built once by ``build(tmp)``
into a temporary directory that is renamed into place only when complete, so an interrupted build leaves
nothing behind and a later run never reads half an artefact. ``DONE`` records every file's size and
sha256; an entry whose files no longer match (or that ``check`` cannot load) is rebuilt, with one line
said, and never used. Temporary folders of builds whose process is gone are removed by the next build.
The root is ``$SAE_REPLICATION_CACHE`` or ``.cache/sae-replication`` in the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from replication.io import give_usual_modes, write_json_atomic

#: bump to invalidate every cached artefact after a change that alters what training produces
CACHE_VERSION = 1
_DONE = "DONE"
_VERIFIED: set[tuple[Path, tuple[tuple[str, int, int], ...]]] = set()
"""Entries this process has verified, with their files' sizes and mtimes (a multi-GB activation cache is
hashed once per process, and again only if a file changed)."""
_BUILD_DIR = re.compile(r"^\.[0-9a-f]{16}\.(?P<owner>.+)\.[A-Za-z0-9_]+\.tmp$")


def cache_root() -> Path:
    env = os.environ.get("SAE_REPLICATION_CACHE")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / ".cache" / "sae-replication"


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit hash of a JSON-serialisable configuration (key order does not matter)."""
    try:
        text = json.dumps({"_cache_version": CACHE_VERSION, **config}, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"cache configuration is not JSON-serialisable: {err}") from err
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def artefact_path(kind: str, config: Mapping[str, Any], root: Path | None = None) -> Path:
    """Where :func:`cached_dir` keeps the artefact ``(kind, config)``, built or not."""
    return (root or cache_root()) / kind / config_hash(config)


def is_built(path: Path) -> bool:
    """Whether ``path`` (a :func:`cached_dir` directory) holds an artefact (verified when used)."""
    return (path / _DONE).exists()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(path: Path) -> dict[str, dict[str, Any]]:
    """``{relative path: {"bytes": n, "sha256": h}}`` of every file under ``path`` but ``DONE``."""
    files = sorted(p for p in Path(path).rglob("*") if p.is_file() and p.name != _DONE)
    return {p.relative_to(path).as_posix(): {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in files}


def entry_problem(path: Path) -> str | None:
    """Why the built entry ``path`` cannot be used (its files differ from what ``DONE`` records), or ``None``.

    An entry of an earlier version (an empty ``DONE``) is adopted: its hashes are recorded now."""
    try:
        text = (path / _DONE).read_text(encoding="utf-8")
        recorded = json.loads(text) if text.strip() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return f"its DONE file is unreadable ({err})"
    if recorded is None:
        write_json_atomic(path / _DONE, manifest(path))
        return None
    if not isinstance(recorded, dict):
        return "its DONE file records no file hashes"
    for rel, want in recorded.items():
        file = path / rel
        if not file.is_file():
            return f"{rel} is missing"
        if file.stat().st_size != want.get("bytes"):
            return f"{rel} has {file.stat().st_size} bytes, not the {want.get('bytes')} recorded"
        if _sha256(file) != want.get("sha256"):
            return f"{rel} differs from the file that was built (sha256 mismatch)"
    return None


def _stamp(path: Path) -> tuple[Path, tuple[tuple[str, int, int], ...]]:
    files = sorted(p for p in Path(path).rglob("*") if p.is_file())
    return path, tuple((p.as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files)


def _owner_tag() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _is_live(tag: str) -> bool:
    """Whether the process that ``_owner_tag`` named is alive (a build on another host counts as live)."""
    host, _, pid = tag.rpartition("-")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_builds(parent: Path) -> list[Path]:
    """Remove the temporary folders under ``parent`` of builds whose process is gone; returns them.

    A build's folder is ``.<hash>.<host>-<pid>.<random>.tmp``; folders without an owner tag (an earlier
    version's) are left alone, since their owner cannot be told."""
    removed = []
    for tmp in Path(parent).glob(".*.tmp"):
        match = _BUILD_DIR.match(tmp.name)
        if tmp.is_dir() and match and "-" in match["owner"] and not _is_live(match["owner"]):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def _usable(path: Path, check: Callable[[Path], None] | None) -> bool:
    """Whether the built entry ``path`` passes its hashes and ``check``; says why in one line if not."""
    if _stamp(path) in _VERIFIED:
        return True
    problem = entry_problem(path)
    if problem is None and check is not None:
        try:
            check(path)
        except Exception as err:  # noqa: BLE001 -- any load error means the entry is unusable
            problem = f"it cannot be loaded ({type(err).__name__}: {' '.join(str(err).split())[:200]})"
    if problem is not None:
        print(f"cache: rebuilding {path}: {problem}", file=sys.stderr)
        return False
    _VERIFIED.add(_stamp(path))
    return True


def cached_dir(kind: str, config: Mapping[str, Any], build: Callable[[Path], None],
               root: Path | None = None, check: Callable[[Path], None] | None = None) -> Path:
    """The directory of the artefact ``(kind, config)``, building it with ``build(tmp_dir)`` if absent or
    damaged (files that differ from ``DONE``'s hashes, or ``check(path)`` raises)."""
    path = artefact_path(kind, config, root)
    damaged = is_built(path) and not _usable(path, check)
    if is_built(path) and not damaged:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_builds(path.parent)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.{_owner_tag()}.", suffix=".tmp"))
    try:
        build(tmp)
        write_json_atomic(tmp / "config.json", dict(config))
        write_json_atomic(tmp / _DONE, manifest(tmp))
        give_usual_modes(tmp)  # mkdtemp makes 0700, safetensors writes 0600
        if path.exists() and (damaged or not is_built(path)):
            # a leftover without DONE, or a damaged entry: moved aside (a reader holding it keeps its files)
            aside = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.{_owner_tag()}.", suffix=".tmp"))
            os.replace(path, aside / "old")
            shutil.rmtree(aside, ignore_errors=True)
        try:
            os.rename(tmp, path)
        except OSError:
            if not is_built(path):
                raise
            # another process (a parallel test worker) finished the same artefact first: keep theirs
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path
