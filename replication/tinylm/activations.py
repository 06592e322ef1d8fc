"""Activations of the tiny LM: cached on disk for SAE training, and computed on the fly for analyses.

Cache (stage ``tinylm-activations``): for each hook in ``params.yaml`` ``tinylm.<profile>.activations.hooks``
(the last layer's ``blocks.{L-1}.hook_resid_post`` and a middle layer's ``hook_resid_mid``,
``hook_mlp_out``, ``hook_attn_out``), the activations at the first ``train_tokens`` / ``heldout_tokens``
positions of the train / held-out windows (:func:`replication.tinylm.model.windows`, in stream order),
**excluding every position whose input token is BOS** (position 0 of each window and each document start:
their activations are outliers of much larger norm; sae-lens's ``exclude_special_tokens`` option does the
same when it trains on LMs).
Files, written batch by batch into memory-mapped arrays (memory stays bounded by one batch):

- ``<hook_name>.<split>.npy``: ``(n_tokens, d_model)`` in ``dtype`` (float16 by default);
- ``tokens.<split>.npy`` (``int32``, the input token at each cached position) and ``index.<split>.npy``
  (``int32`` pairs ``(window, position)``), the same rows for every hook: rows align across hooks;
- ``manifest.json``: hooks, shapes, dtype, the BOS rule, the LM checkpoint's sha256, and each file's sha256
  (and ``device`` where the LM ran on another device than the CPU: CUDA when torch sees a GPU,
  :func:`replication.device.best_device`; absent on the CPU, whose bytes the committed ``dvc.lock`` hashes).

The cache is read by :class:`replication.lm.cache.CachedActivations` (the layout every LM activation cache
of the suite shares); :func:`window_batches` gives the tiny LM's windows of a split.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from replication.device import best_device
from replication.io import write_json_atomic
from replication.lm.hooks import hook_activations
from replication.tinylm.config import atomic_output_dir
from replication.tinylm.model import load_tinylm, windows
from replication.tinylm.tokenizer import BOS_ID, load_stream

__all__ = ["build_activations", "entropy_from_logits", "window_batches"]

_DTYPES = {"float16": np.float16, "float32": np.float32}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def window_batches(split: str, batch_size: int = 64, profile: str | None = None, n_ctx: int | None = None,
                  max_batches: int | None = None) -> Iterator[Int[Tensor, "batch n_ctx"]]:
    """Batches of windows of one split (``"train"`` or ``"heldout"``), in stream order.

    ``n_ctx`` defaults to the trained LM's context length. Every window starts with BOS.
    """
    from replication.tinylm.config import artifacts

    paths = artifacts(profile)
    if n_ctx is None:
        n_ctx = int(json.loads((paths.lm / "config.json").read_text())["n_ctx"])
    all_windows = windows(load_stream(paths.tokenizer, split), n_ctx)
    for i, batch in enumerate(all_windows.split(batch_size)):
        if max_batches is not None and i >= max_batches:
            return
        yield batch


def entropy_from_logits(logits: Float[Tensor, "... d_vocab"]) -> Float[Tensor, "..."]:
    """Entropy (nats) of the next-token distribution ``softmax(logits)``: ``H = -sum_v p_v log p_v``.

    The output entropy of antipodal §3.2 (Fig 2c), computed in float64 for accuracy.
    """
    log_p = torch.log_softmax(logits.double(), dim=-1)
    return -(log_p.exp() * log_p).sum(-1)


@dataclass(frozen=True)
class ActivationsConfig:
    hooks: tuple[str, ...]
    train_tokens: int
    heldout_tokens: int
    batch_size: int = 64
    dtype: str = "float16"

    @staticmethod
    def from_params(params: dict[str, Any]) -> "ActivationsConfig":
        unknown = set(params) - set(ActivationsConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown activations parameters {sorted(unknown)}")
        hooks = params["hooks"]
        if not isinstance(hooks, dict) or not hooks:
            raise ValueError(f"tinylm activations.hooks must map a name to a hook (name: blocks.L.hook_...), got "
                             f"{hooks!r}")
        cfg = ActivationsConfig(**{**params, "hooks": tuple(hooks.values())})
        if cfg.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {cfg.dtype!r}")
        return cfg


def build_activations(cfg: ActivationsConfig, lm_dir: Path, tokenizer_dir: Path, out: Path,
                      log: Any = print, device: str | None = None) -> dict[str, Any]:
    """Cache the activations of ``cfg.hooks`` (BOS positions excluded) into ``out``, atomically, running the LM
    on ``device`` (default :func:`~replication.device.best_device`)."""
    device = device or best_device()
    model = load_tinylm(lm_dir, device=device)
    n_ctx, d_model = model.cfg.n_ctx, model.cfg.d_model
    manifest: dict[str, Any] = {
        "hooks": list(cfg.hooks), "dtype": cfg.dtype, "d_model": d_model, "n_ctx": n_ctx,
        "bos_rule": "positions whose input token is BOS (id 0) are excluded: window position 0 and every "
                    "document start",
        "order": "windows of the split in stream order, positions in order; rows align across hooks",
        "lm_sha256": _sha256(Path(lm_dir) / "model.safetensors"), "splits": {}, "files": {},
    }
    if device != "cpu":  # activations computed elsewhere are not bit-identical to the CPU's
        manifest["device"] = device
    with atomic_output_dir(Path(out)) as tmp:
        for split, wanted in (("train", cfg.train_tokens), ("heldout", cfg.heldout_tokens)):
            all_windows = windows(load_stream(tokenizer_dir, split), n_ctx)
            available = int((all_windows != BOS_ID).sum())
            n = min(wanted, available)
            if n < wanted:
                log(f"activations: {split} has only {available} non-BOS tokens; caching {n} < {wanted}")
            arrays = {h: np.lib.format.open_memmap(tmp / f"{h}.{split}.npy", mode="w+", dtype=_DTYPES[cfg.dtype],
                                                   shape=(n, d_model)) for h in cfg.hooks}
            token_ids = np.lib.format.open_memmap(tmp / f"tokens.{split}.npy", mode="w+", dtype=np.int32,
                                                  shape=(n,))
            index = np.lib.format.open_memmap(tmp / f"index.{split}.npy", mode="w+", dtype=np.int32, shape=(n, 2))
            sq_norms = {h: 0.0 for h in cfg.hooks}
            filled = 0
            for b, batch in enumerate(all_windows.split(cfg.batch_size)):
                if filled >= n:
                    break
                acts, keep = hook_activations(model, batch, cfg.hooks, exclude=(BOS_ID,))
                take = min(int(keep.sum()), n - filled)
                rows = slice(filled, filled + take)
                for h in cfg.hooks:
                    arrays[h][rows] = acts[h][:take].numpy().astype(_DTYPES[cfg.dtype])
                    sq_norms[h] += float(acts[h][:take].double().pow(2).sum())
                token_ids[rows] = batch[keep][:take].numpy()
                where = keep.nonzero()[:take]
                where[:, 0] += b * cfg.batch_size
                index[rows] = where.numpy()
                filled += take
            for arr in (*arrays.values(), token_ids, index):
                arr.flush()
            del arrays, token_ids, index
            manifest["splits"][split] = {
                "tokens": n, "mean_sq_norm": {h: sq_norms[h] / max(n, 1) for h in cfg.hooks}}
        for path in sorted(tmp.glob("*.npy")):
            manifest["files"][path.name] = _sha256(path)
        write_json_atomic(tmp / "manifest.json", manifest)
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    from replication.tinylm.config import add_stage_arguments, artifacts, stage_params

    parser = argparse.ArgumentParser(description="Cache the tiny LM's activations (stage `tinylm-activations`).")
    add_stage_arguments(parser)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = ActivationsConfig.from_params(stage_params("activations", args.profile, Path(args.params)))
    paths = artifacts(args.profile, args.root)
    start = time.perf_counter()
    manifest = build_activations(cfg, paths.lm, paths.tokenizer, paths.activations)
    print(f"activations: {json.dumps(manifest['splits'])}")
    print(f"activations: wrote {paths.activations} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    from replication.tinylm.config import run_stage

    raise SystemExit(run_stage(main))
