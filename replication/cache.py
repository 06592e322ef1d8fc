"""On-disk cache of expensive artefacts (trained toy SAEs, activations), keyed by a configuration's hash.

``cached_dir("toy-sae", config, build)`` returns ``<root>/toy-sae/<hash>``: built once by ``build(tmp)``
into a temporary directory that is renamed into place only when complete, so an interrupted build leaves
nothing behind and a later run never reads half an artefact. The root is ``$SAE_REPLICATION_CACHE`` or
``.cache/sae-replication`` in the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from replication.io import write_json_atomic

#: bump to invalidate every cached artefact after a change that alters what training produces
CACHE_VERSION = 1
_DONE = "DONE"


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
    """Whether ``path`` (a :func:`cached_dir` directory) holds a complete artefact."""
    return (path / _DONE).exists()


def cached_dir(kind: str, config: Mapping[str, Any], build: Callable[[Path], None],
               root: Path | None = None) -> Path:
    """The directory of the artefact ``(kind, config)``, building it with ``build(tmp_dir)`` if absent."""
    path = artefact_path(kind, config, root)
    if is_built(path):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        build(tmp)
        write_json_atomic(tmp / "config.json", dict(config))
        (tmp / _DONE).write_text("")
        if path.exists() and not is_built(path):
            shutil.rmtree(path)  # a leftover without DONE is no artefact
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
