"""``python -m replication.tinylm STAGE --profile PROFILE``: run one stage of the tiny-LM pipeline."""

from __future__ import annotations

import sys

from replication.tinylm.config import STAGES, run_stage


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in STAGES:
        print(f"usage: python -m replication.tinylm {{{','.join(STAGES)}}} [--profile full|smoke] [--params FILE]",
              file=sys.stderr)
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
