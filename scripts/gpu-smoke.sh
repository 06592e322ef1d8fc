#!/usr/bin/env bash
# One GPU smoke run (issue 17): every CUDA path of the suite at the papers' real widths, random weights
# (benchmarks/gpu_smoke.py: the antipodal kernels as ratios of the device's GEMM rate, a few hundred steps of
# every SAE architecture, the tiny LM, the real tier's activation cache, the user check). Budgeted at under
# 8 minutes on one H200; exits non-zero if any step fails. Without CUDA, or with --cpu-small, the same steps
# at reduced sizes on the CPU (seconds). Needs this package's environment with a CUDA build of torch; offline.
#
#   bash scripts/gpu-smoke.sh                     # on a GPU machine
#   bash scripts/gpu-smoke.sh --only pairwise     # a subset; --help lists the options
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" -m benchmarks.gpu_smoke "$@"
