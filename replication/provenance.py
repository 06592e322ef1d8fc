"""Where a number came from: library versions, git revision, device."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import subprocess
from pathlib import Path

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
    """``HEAD``'s hash, with ``+dirty`` if the work tree has changes; ``unknown`` outside a git checkout."""
    cwd = repo or Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def device_description() -> str:
    """``cuda:<name>`` when a GPU is in use, else ``cpu:<processor> x<threads>``."""
    import torch

    if torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(0)}"
    return f"cpu:{platform.machine()} x{torch.get_num_threads()} threads"
