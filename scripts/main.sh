#!/usr/bin/env bash
# Set up and run the main job on a fresh machine: the replication pipeline (dvc repro) and the report.
#
# Two branches of the pipeline share nothing, so they run side by side: the toy tier (and the smoke
# profile of the tiny LM) beside the tiny LM's chain (corpus -> tokenizer -> LM -> activations -> its
# claims). Each claims stage measures on a pool of worker processes (`sae-replicate run --jobs`, one torch
# thread each). DVC records both branches in dvc.lock; the last `dvc repro` writes the report.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet torch==2.13.0           # first: the local CPU build, never a CUDA one
python -m pip install --quiet -e '.[dev]'
mkdir -p logs
start=$(date +%s)
# the side branch logs to a file (one progress display on the screen: the tiny LM's branch)
dvc repro toy tinylm-activations@smoke > logs/toy-branch.log 2>&1 &
side=$!
dvc repro tinylm-claims
if ! wait "$side"; then
    echo "the toy branch failed; its log: logs/toy-branch.log" >&2
    tail -n 20 logs/toy-branch.log >&2
    exit 1
fi
grep -E "^[0-9]+ (inconclusive|not replicated|not run|replicated)|differ from the outcome|^  [a-z]+\." \
    logs/toy-branch.log | sed 's/^/toy: /' || true
dvc repro                                              # the report (and anything the branches left)
echo "main job: $(( $(date +%s) - start )) s; report: $(pwd)/report/out/report.html"
echo "committed snapshot (commit it with dvc.lock): $(pwd)/report/latest/report.md"
