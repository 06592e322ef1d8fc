"""`dvc repro` twice in a row reruns nothing the second time, on a toy pipeline of the real CLI stages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DVC_YAML = """stages:
  toy:
    cmd: {py} -m replication.cli run --claim topk.exact_sparsity --tier toy --results-dir results --metrics metrics.json --quiet
    outs:
      - results/toy
    metrics:
      - metrics.json:
          cache: false
  report:
    cmd: {py} -m replication.cli report --results-dir results --out out --no-html
    deps:
      - results/toy
    outs:
      - out
"""


# same xdist group as the topk claim tests: the toy SAEs it reads are trained once, by whichever runs first
@pytest.mark.xdist_group("topk-toy:toy-sparse")
@pytest.mark.skipif(shutil.which("dvc") is None, reason="needs dvc: `pip install -e .` installs it")
def test_dvc_repro_twice_reruns_nothing(tmp_path: Path) -> None:
    (tmp_path / "dvc.yaml").write_text(DVC_YAML.format(py=sys.executable))
    env = {**os.environ, "PYTHONPATH": str(REPO), "DVC_NO_ANALYTICS": "1"}
    env.setdefault("SAE_REPLICATION_CACHE", str(REPO / ".cache" / "sae-replication"))

    def dvc(*args: str) -> str:
        done = subprocess.run(["dvc", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    dvc("init", "--no-scm", "-q")
    first = dvc("repro")
    assert "Running stage 'toy'" in first and "Running stage 'report'" in first
    assert (tmp_path / "out" / "report.md").exists() and (tmp_path / "metrics.json").exists()
    second = dvc("repro")
    assert "Running stage" not in second, second
    assert "didn't change, skipping" in second or "is cached" in second or "up to date" in second.lower()
    assert "topk.exact_sparsity" in dvc("metrics", "show")
