#!/usr/bin/env bash
# Set up and run the main job on a fresh machine: the replication pipeline (dvc repro) and the report.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet torch==2.13.0           # first: the local CPU build, never a CUDA one
python -m pip install --quiet -e '.[dev]'
dvc repro
echo "report: $(pwd)/report/out/report.html"
echo "committed snapshot (commit it with dvc.lock): $(pwd)/report/latest/report.md"
