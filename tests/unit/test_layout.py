"""The layout is the architecture: one folder per paper with the same files, registries that import nothing."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAPERS_DIR = REPO / "replication" / "papers"


def _imports(path: Path, top_level: bool = False) -> set[str]:
    out = set()
    tree = ast.parse(path.read_text())
    for node in (tree.body if top_level else ast.walk(tree)):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_the_registries_import_no_paper() -> None:
    for leaf in ("targets.py", "claims.py", "verdict.py"):
        imported = _imports(REPO / "replication" / leaf, top_level=True)
        assert not any(m.startswith(("replication.papers", "claims")) for m in imported), (leaf, imported)
    # and importing the analysis registry loads no paper at all
    code = ("import sys, replication.targets; "
            "print(sorted(m for m in sys.modules if m.startswith('replication.papers')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"


def test_no_paper_module_imports_the_composition_root_or_another_paper() -> None:
    """...except the papers a paper declares it combines (``COMBINES``: the cross-paper questions)."""
    import importlib

    from replication.papers import PAPERS

    for paper in PAPERS:
        combines = getattr(importlib.import_module(f"replication.papers.{paper}"), "COMBINES", ())
        allowed = tuple(f"replication.papers.{p}" for p in (paper, *combines))
        for path in (PAPERS_DIR / paper).glob("*.py"):
            others = {m for m in _imports(path) if m.startswith("replication.papers") and not m.startswith(allowed)}
            if path.name == "figures.py":  # the report side may ask the registry which targets are controls
                others.discard("replication.papers")
            assert not others, (path, others)


def test_every_paper_folder_has_the_same_files() -> None:
    from replication.papers import PAPERS

    assert sorted(PAPERS) == sorted(p.name for p in PAPERS_DIR.iterdir() if (p / "__init__.py").exists())
    for paper in PAPERS:
        folder = PAPERS_DIR / paper
        for name in ("__init__.py", "analysis.py", "toy.py", "expectations.py", "figures.py", "NOTES.md"):
            assert (folder / name).exists(), f"{paper}/{name}"
        allowed = {"__init__.py", "analysis.py", "sweeps.py", "toy.py", "tinylm.py", "real.py", "expectations.py",
                   "figures.py"}
        assert {p.name for p in folder.glob("*.py")} <= allowed, paper


def test_no_import_order_comments_remain() -> None:
    offenders = [str(p) for p in (REPO / "replication").rglob("*.py") if "noqa: E402" in p.read_text()]
    assert not offenders
