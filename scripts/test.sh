#!/usr/bin/env bash
# Set up and run the tests (unit + toy tier) on a fresh machine. This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet torch==2.13.0           # first: the local CPU build, never a CUDA one
python -m pip install --quiet -e '.[dev]'
# the report test renders the HTML in a real headless browser (Debian's chromium)
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "chromium could not be installed: the browser test will be skipped with its reason"
fi
python -m pytest -n 2 --dist loadgroup
