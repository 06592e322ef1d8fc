"""Where a number came from: library versions, git revision, device.

The revision is ``+dirty`` only for edits of the source: files DVC writes while ``dvc repro`` runs
(:data:`DVC_MANAGED`: lock files and stage outputs) do not count.
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import subprocess
from pathlib import Path

#: paths DVC rewrites during a run (lock files, stage outputs and the .gitignore files it keeps beside them;
#: report/latest/ is the committed snapshot of the report the `report-latest` stage writes)
DVC_MANAGED = ("dvc.lock", "results/", "data/", "metrics/", "report/out/", "report/latest/")


def is_dvc_managed(path: str) -> bool:
    """Whether a repository-relative path is written by DVC rather than edited by hand (pure)."""
    return (path == "dvc.lock" or path.endswith("/dvc.lock")
            or any(path == p.rstrip("/") or path.startswith(p) for p in DVC_MANAGED if p.endswith("/")))


def changed_paths(porcelain_z: str) -> list[str]:
    """The paths of ``git status --porcelain -z`` output (a rename names both paths) (pure)."""
    entries = porcelain_z.split("\0")
    paths, i = [], 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":  # rename/copy: the original path follows as its own entry
            paths.append(entries[i])
            i += 1
    return paths


_LIBRARIES = ("torch", "sae-lens", "transformer-lens", "numpy", "scipy", "pandas", "hypothesis")


@functools.cache
def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a measurement depends on (``"absent"`` if not installed)."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


@functools.cache
def git_revision(repo: Path | None = None) -> str:
    """``HEAD``'s hash, with ``+dirty`` if a tracked file other than DVC's (:func:`is_dvc_managed`) has
    changes; ``unknown`` outside a git checkout."""
    cwd = repo or Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "-z", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    dirty = [p for p in changed_paths(status) if not is_dvc_managed(p)]
    return rev + ("+dirty" if dirty else "")


def device_description() -> str:
    """``cuda:<name>`` when a GPU is in use (:func:`replication.device.best_device`: CUDA when there is one,
    unless ``SAE_REPLICATION_DEVICE=cpu``), else ``cpu:<processor> x<threads>``."""
    import torch

    from replication.device import best_device

    if best_device() == "cuda":
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return f"cpu:{platform.machine()} x{torch.get_num_threads()} threads"
