"""``python -m replication.tinylm STAGE --profile PROFILE``: run one stage of the tiny-LM pipeline."""

from __future__ import annotations

import sys

from replication.tinylm.config import run_stage

RUNNABLE = ("corpus", "tokenizer", "lm", "activations")
"""The stages this command runs (``saes`` is a parameter group of the claims stage, ``sae-replicate run``)."""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in RUNNABLE:
        hint = ("; the tinylm SAEs train in `sae-replicate run --tier tinylm`" if argv and argv[0] == "saes" else "")
        print(f"usage: python -m replication.tinylm {{{','.join(RUNNABLE)}}} [--profile full|smoke] [--params FILE]"
              + hint, file=sys.stderr)
        return 2
    stage, rest = argv[0], argv[1:]
    if stage == "corpus":
        from replication.tinylm.corpus import main as run
    elif stage == "tokenizer":
        from replication.tinylm.tokenizer import main as run
    elif stage == "lm":
        from replication.tinylm.train import main as run
    else:
        from replication.tinylm.activations import main as run
    return run_stage(run, rest)  # a bad params file: one line naming the file and key, exit 2


if __name__ == "__main__":
    raise SystemExit(main())
