"""Train the tiny LM on the tokenised corpus (stage ``tinylm-lm``) and compare it with the unigram baseline.

Training: next-token cross-entropy (transformer-lens's ``return_type="loss"``: mean over every position
predicting ``tokens[:, 1:]``) on batches of random windows of the train stream (see
:func:`replication.tinylm.model.random_windows`), AdamW (betas 0.9/0.95; weight decay on matrices only),
linear warm-up then cosine decay to ``lr_final_fraction * lr``, gradient clipping. Everything is seeded by
``seed``; with one torch thread the checkpoint is reproducible on a machine.

Evaluation, on the held-out split cut into non-overlapping windows (:func:`~replication.tinylm.model.windows`):
``heldout_loss`` is the model's mean cross-entropy (nats/token) over the targets ``tokens[:, 1:]`` of every
held-out window; ``unigram_heldout_loss`` is the cross-entropy of the same targets under the unigram
distribution of the train stream (add-one smoothed): the baseline a model that ignores context reaches.

Device: CUDA when torch sees a GPU (:func:`replication.device.best_device`; ``SAE_REPLICATION_DEVICE=cpu``
keeps a GPU machine on the CPU). The model is initialised on the CPU either way (the same seeded weights),
then moved; batches are drawn on the CPU and moved. A GPU-trained checkpoint is not bit-identical to the CPU
one, so a non-CPU device is recorded in ``metrics.json`` (``device``; absent on the CPU, whose outputs stay
those the committed ``dvc.lock`` hashes) and, always, in the stage provenance.

Threads (``params.yaml`` ``threads``, default 1). Measured once on this machine kind (2 cores) for the full
profile (4 layers, d_model 128, batch 32 x 128 tokens, forward + backward + AdamW), median of 8 steps, with
one other single-threaded job running: 0.77 s/step with 1 thread, 0.47 s/step with 2 threads. Two threads
are faster only when the second core is free; the suite runs other jobs beside this one, so it uses one.

Outputs (atomically): the checkpoint directory (``replication.tinylm.model`` format) with ``metrics.json``,
``curve.csv`` (step, train loss, held-out loss at eval steps) and ``training.json`` (the parameters); where
DVC reads metrics and plots, the headline ``lm.json`` (``value``: the held-out loss in nats/token, the one
column DVC's table shares with the claims' metrics) and a copy of ``curve.csv``. The training wall time,
which varies from run to run, goes to ``<profile>/provenance/lm.json`` outside the checkpoint
(:func:`~replication.tinylm.config.stage_provenance_path`), so the checkpoint's bytes depend on its inputs alone.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

from replication.device import best_device
from replication.io import write_json_atomic, write_text_atomic
from replication.tinylm.config import atomic_output_dir, stage_provenance_path
from replication.tinylm.model import ARCHITECTURE_KEYS, build_model, config_kwargs, random_windows, save_lm, windows
from replication.tinylm.tokenizer import load_stream, load_tokenizer


@dataclass(frozen=True)
class LMTrainConfig:
    steps: int
    batch_size: int
    lr: float
    lr_warmup_steps: int = 100
    lr_final_fraction: float = 0.1
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 200
    eval_windows: int = 256
    threads: int = 1
    seed: int = 0

    @staticmethod
    def from_params(params: Mapping[str, Any]) -> "LMTrainConfig":
        fields = set(LMTrainConfig.__dataclass_fields__)
        unknown = set(params) - fields - set(ARCHITECTURE_KEYS)
        if unknown:
            raise ValueError(f"unknown lm parameters {sorted(unknown)}")
        return LMTrainConfig(**{k: v for k, v in params.items() if k in fields})


def lr_factor(step: int, cfg: LMTrainConfig) -> float:
    """Linear warm-up over ``lr_warmup_steps``, then cosine decay from 1 to ``lr_final_fraction``."""
    if step < cfg.lr_warmup_steps:
        return (step + 1) / cfg.lr_warmup_steps
    progress = (step - cfg.lr_warmup_steps) / max(cfg.steps - cfg.lr_warmup_steps, 1)
    return cfg.lr_final_fraction + (1 - cfg.lr_final_fraction) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def unigram_cross_entropy(train_stream: np.ndarray, targets: Int[Tensor, "..."], d_vocab: int) -> float:
    """Mean ``-log p(t)`` over ``targets`` under the add-one-smoothed unigram distribution of ``train_stream``."""
    counts = np.bincount(np.asarray(train_stream, dtype=np.int64), minlength=d_vocab).astype(np.float64) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(-log_p[targets.numpy().ravel()].mean())


@torch.no_grad()
def heldout_loss(model: Any, batches: Int[Tensor, "n n_ctx"], batch_size: int = 64, device: str = "cpu") -> float:
    """Mean next-token cross-entropy over the targets ``tokens[:, 1:]`` of every window in ``batches``
    (``model`` on ``device``)."""
    total, count = 0.0, 0
    for chunk in batches.split(batch_size):
        losses = model(chunk.to(device), return_type="loss", loss_per_token=True)  # (batch, n_ctx - 1)
        total += float(losses.sum())
        count += losses.numel()
    return total / count


def train_lm(params: Mapping[str, Any], tokenizer_dir: Path, out: Path,
             log: Any = print, device: str | None = None) -> dict[str, Any]:
    """Train the LM of ``params`` on the streams in ``tokenizer_dir`` on ``device`` (default
    :func:`~replication.device.best_device`); write the checkpoint to ``out``."""
    device = device or best_device()
    cfg = LMTrainConfig.from_params(params)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    tokenizer = load_tokenizer(tokenizer_dir)
    d_vocab = len(tokenizer)
    kwargs = config_kwargs(params, d_vocab)
    model = build_model(kwargs)  # on the CPU (kwargs["device"]): the same initial weights on every device
    if device != "cpu":
        model = model.to(device)
    params_to_train = [p for p in model.parameters() if p.requires_grad]
    n_ctx = kwargs["n_ctx"]
    train_np = load_stream(tokenizer_dir, "train")
    train_stream = torch.from_numpy(np.asarray(train_np, dtype=np.int64))
    held = windows(load_stream(tokenizer_dir, "heldout"), n_ctx)
    generator = torch.Generator().manual_seed(cfg.seed)

    decay = [p for p in params_to_train if p.ndim >= 2]
    no_decay = [p for p in params_to_train if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.95))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    curve: list[tuple[int, float, float | None]] = []
    start = time.perf_counter()
    for step in range(cfg.steps):
        model.train()
        tokens = random_windows(train_stream, n_ctx, cfg.batch_size, generator)
        loss = model(tokens.to(device), return_type="loss")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params_to_train, cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        evaluated = None
        if (step + 1) % cfg.eval_every == 0 and step + 1 < cfg.steps:  # the final eval uses every window
            model.eval()
            evaluated = heldout_loss(model, held[: cfg.eval_windows], device=device)
            log(f"lm: step {step + 1}/{cfg.steps} train {float(loss.detach()):.3f} held-out {evaluated:.3f} "
                f"({time.perf_counter() - start:.0f} s)")
        curve.append((step + 1, float(loss.detach()), evaluated))
    train_s = time.perf_counter() - start
    model.eval()
    final = heldout_loss(model, held, device=device)
    unigram = unigram_cross_entropy(train_np, held[:, 1:], d_vocab)
    last = [c[1] for c in curve[-50:]]
    curve[-1] = (curve[-1][0], curve[-1][1], final)
    metrics = {
        "heldout_loss": final,
        "unigram_heldout_loss": unigram,
        "heldout_minus_unigram": final - unigram,
        "train_loss_last50": float(np.mean(last)),
        "steps": cfg.steps,
        "tokens_seen": cfg.steps * cfg.batch_size * n_ctx,
        "heldout_tokens_evaluated": int(held[:, 1:].numel()),
        "n_params": sum(p.numel() for p in params_to_train),
        "threads": cfg.threads,
    }
    if device != "cpu":  # not bit-identical to the CPU checkpoint; absent on the CPU (its bytes are dvc.lock's)
        metrics["device"] = device
    log(f"lm: held-out loss {final:.4f} nats/token vs unigram baseline {unigram:.4f} "
        f"({metrics['heldout_tokens_evaluated']} held-out targets); trained {cfg.steps} steps in {train_s:.0f} s")
    csv = "step,train_loss,heldout_loss\n" + "".join(
        f"{s},{t:.6f},{'' if h is None else f'{h:.6f}'}\n" for s, t, h in curve)
    if device != "cpu":
        model = model.to("cpu")
    with atomic_output_dir(Path(out)) as tmp:
        save_lm(model, tokenizer_dir, tmp)
        write_json_atomic(tmp / "metrics.json", metrics)
        write_json_atomic(tmp / "training.json", {"train": asdict(cfg), "model": kwargs})
        write_text_atomic(tmp / "curve.csv", csv)
    write_json_atomic(stage_provenance_path(Path(out)), lm_provenance(train_s, cfg.threads, device))
    return metrics


def lm_provenance(train_s: float, threads: int, device: str = "cpu") -> dict[str, Any]:
    """What varies from one training run to the next: wall time (s, one decimal), threads, device, when (UTC)."""
    return {"train_wall_s": round(train_s, 1), "threads": threads, "device": device,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def lm_headline(metrics: dict) -> dict[str, float]:
    """What `dvc metrics show` prints for the LM: its held-out loss as ``value`` (the full metrics stay in the
    checkpoint's ``metrics.json`` and the report), so the table keeps the claims' six columns."""
    return {"value": float(metrics["heldout_loss"])}


def main(argv: Sequence[str] | None = None) -> int:
    from replication.tinylm.config import REPO, add_stage_arguments, artifacts, stage_params

    parser = argparse.ArgumentParser(description="Train the tiny LM (stage `tinylm-lm`).")
    add_stage_arguments(parser)
    parser.add_argument("--metrics-dir", help="also write the headline lm.json and a copy of curve.csv here "
                                              "(default: metrics/tinylm/<profile>)")
    args = parser.parse_args(argv)
    paths = artifacts(args.profile, args.root)
    train_lm(stage_params("lm", args.profile, Path(args.params)), paths.tokenizer, paths.lm)
    metrics_dir = Path(args.metrics_dir) if args.metrics_dir else REPO / "metrics" / "tinylm" / args.profile
    metrics = json.loads((paths.lm / "metrics.json").read_text())
    write_json_atomic(metrics_dir / "lm.json", lm_headline(metrics))
    metrics_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(paths.lm / "curve.csv", metrics_dir / "lm-curve.csv")
    return 0


if __name__ == "__main__":
    from replication.tinylm.config import run_stage

    raise SystemExit(run_stage(main))
