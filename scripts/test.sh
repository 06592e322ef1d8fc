#!/usr/bin/env bash
# Set up and run the tests (unit + toy tier) on a fresh machine. This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet torch==2.13.0           # first: the local CPU build, never a CUDA one
python -m pip install --quiet -e '.[dev]'
python -m pytest -n 2 --dist loadgroup
