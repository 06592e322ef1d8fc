"""Provenance: files DVC rewrites while it runs do not make a checkout ``+dirty``; a real edit does (issue 16)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from replication.provenance import changed_paths, git_revision, is_dvc_managed


@pytest.mark.parametrize(("path", "managed"), [
    ("dvc.lock", True), ("pipelines/real/dvc.lock", True), ("results/toy/.gitignore", True),
    ("data/tinylm/full/.gitignore", True), ("metrics/toy.json", True), ("report/out/report.md", True),
    ("report/latest/figures/topk-shrinkage-vs-l0.png", True),
    ("replication/cli.py", False), ("params.yaml", False), ("dvc.yaml", False), ("report/template.md", False),
    ("database.py", False),
])
def test_what_dvc_manages(path: str, managed: bool) -> None:
    assert is_dvc_managed(path) is managed


def test_changed_paths_reads_porcelain_z_with_renames() -> None:
    assert changed_paths(" M dvc.lock\0R  new.py\0old.py\0 M a b.py\0") == ["dvc.lock", "new.py", "old.py", "a b.py"]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_a_dvc_lock_rewrite_is_clean_and_a_source_edit_is_dirty(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    for name in ("dvc.lock", "code.py", "data/tinylm/full/.gitignore"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("v1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (tmp_path / "dvc.lock").write_text("v2\n")
    (tmp_path / "data/tinylm/full/.gitignore").write_text("v2\n")
    git_revision.cache_clear()
    assert not git_revision(tmp_path).endswith("+dirty")
    (tmp_path / "code.py").write_text("v2\n")
    git_revision.cache_clear()
    assert git_revision(tmp_path).endswith("+dirty")
    git_revision.cache_clear()
