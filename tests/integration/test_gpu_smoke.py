"""The GPU smoke command's CPU mode end to end (issue 17), so that CI keeps it working without a GPU.

``bash scripts/gpu-smoke.sh --cpu-small`` runs every step the GPU run takes (the antipodal kernels, a few
steps of every SAE architecture, the tiny LM, the user check, the real tier's activation cache) at reduced
sizes on the CPU, in a subprocess: ~25 s on one thread of this 2-core machine.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^(?P<status>ok|FAIL)\s+(?P<name>.+?)\s+(?:(?P<ratio>\d+\.\d+) x GEMM|-)\s+(?P<seconds>\d+\.\d) s",
                 re.MULTILINE)


def test_the_gpu_smoke_command_runs_on_the_cpu_at_reduced_sizes(tmp_path: Path) -> None:
    import replication.saes  # noqa: F401  (this package's architectures, which the run must train too)
    from sae_lens.registry import SAE_TRAINING_CLASS_REGISTRY

    env = {**os.environ, "PYTHON": sys.executable, "SAE_REPLICATION_CACHE": str(tmp_path / "cache"),
           "TMPDIR": str(tmp_path)}
    env.pop("SAE_REPLICATION_DEVICE", None)
    done = subprocess.run(["bash", "scripts/gpu-smoke.sh", "--cpu-small", "--threads", "1"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    summary = done.stdout[done.stdout.index("== gpu smoke summary: cpu"):]
    assert ", 0 failed," in summary.splitlines()[0]
    rows = {m["name"]: m for m in ROW.finditer(summary)}
    assert rows and all(m["status"] == "ok" for m in rows.values())
    ours = sorted(a for a in SAE_TRAINING_CLASS_REGISTRY if a.startswith("replication-"))
    assert len(ours) >= 4
    kernels = ["pairwise 1024 x 256 float32", "pairwise 1024 x 256 bfloat16", "pairwise 2048 x 512 float32",
               "pairwise 2048 x 512 bfloat16", "pca 16384 x 256", "density 16384 x 256 -> 1024",
               *(f"train {a}" for a in ("standard", "topk", "jumprelu", "gated", *ours))]
    for name in kernels:  # each kernel's ratio to this machine's measured GEMM rate
        assert name in rows, (name, summary)
        ratio = float(rows[name]["ratio"])
        assert math.isfinite(ratio) and ratio > 0, (name, ratio)
    for name in ("tinylm smoke profile", "check 128 -> 512", "real-tier activation cache + SAE"):
        assert name in rows, (name, summary)
    # the kernels' own lines, as benchmarks.bench_kernels prints them
    assert len(re.findall(r"^pairwise .* x GEMM \(\d+/\d+\)", done.stdout, re.MULTILINE)) == 4
    assert re.search(r"^streaming PCA .* x float64 GEMM", done.stdout, re.MULTILINE)
    assert re.search(r"^check on d_model 128, d_sae 512, 2048 tokens, cpu: \d+ claims", done.stdout, re.MULTILINE)


def test_a_failing_step_is_reported_and_makes_the_run_exit_non_zero(tmp_path: Path) -> None:
    """A step that raises is named FAIL in the summary with its error (its traceback on stderr), the other
    steps still run, and the exit status is 1."""
    code = ("import sys, benchmarks.gpu_smoke as g\n"
            "g.tinylm_step = lambda *a: 1 / 0\n"
            "sys.exit(g.main(['--cpu-small', '--threads', '1', '--only', 'tinylm', '--only', 'pca']))\n")
    env = {**os.environ, "SAE_REPLICATION_CACHE": str(tmp_path / "cache"), "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    rows = {m["name"]: m["status"] for m in ROW.finditer(done.stdout)}
    assert rows == {"pca 16384 x 256": "ok", "tinylm smoke profile": "FAIL"}
    assert "ZeroDivisionError: division by zero" in done.stdout and "Traceback" in done.stderr
