"""One GPU smoke run (issue 17): every CUDA path of the suite, at the papers' real widths, on random weights.

Not a test of any claim: one command (``bash scripts/gpu-smoke.sh``; budgeted at under 8 minutes on one
H200) that runs each path the suite takes on a GPU and prints, for each kernel, its rate as a ratio of the
device's own measured GEMM rate (the helpers of :mod:`benchmarks.bench_kernels`):

- the antipodal kernels: the pairwise score at 16k x 2304 (Gemma Scope) and 131k x 4096 (Llama Scope), in
  float32, bfloat16 and (CUDA) TF32; streaming PCA over 250k x 2304; the density pass (250k tokens x 2304
  -> 16k JumpReLU latents);
- 200 steps of sae-lens's trainer (:func:`replication.training.fit`) for every architecture the suite
  trains: sae-lens's ``standard``, ``topk``, ``jumprelu``, ``gated`` and this package's ``replication-*``
  (:mod:`replication.saes`), 2304 -> 16k, batches of 4096 drawn on the CPU from a pool of random rows (as
  the activation caches' are) and moved by the trainer; credited with ``12 * batch * d_in * d_sae`` FLOP
  per step (encoder and decoder, forward and backward), an approximation for the gated architectures;
- the tiny LM on the device: its ``smoke`` profile's corpus, tokenizer, LM training and activation cache
  (:mod:`replication.tinylm`), and an SAE trained on that cache (``CachedActivations.device``);
- the user check (:func:`replication.check.check`) on a Gemma-2-2B-shaped SAE (sae-lens JumpReLU, d_in
  2304, 16k latents, random weights, ``save_model``) at a 2-layer random GPT-2-style model of d_model 2304
  (``save_pretrained``), both written by :func:`benchmarks.bench_user_check.build`; then the real tier's
  activation cache of that model (:class:`replication.lm.cache.LMActivations`, a summed hook included) and
  an SAE trained from it.

Every step runs even if an earlier one failed (its traceback is printed); the summary lists each step and
the exit status is 1 if any step raised. Without CUDA, or with ``--cpu-small``, the same steps run on the
CPU at reduced sizes in seconds (the default test run does so: ``tests/integration/test_gpu_smoke.py``).
``SAE_REPLICATION_DEVICE`` is set to the device used, so every default device in the suite agrees; the SAE
and activation caches go to a temporary directory, and the hub is never asked (``HF_HUB_OFFLINE=1``).

Usage (from the repository root)::

    bash scripts/gpu-smoke.sh                          # = python -m benchmarks.gpu_smoke
    bash scripts/gpu-smoke.sh --only pairwise --only train   # a subset (steps whose name starts so)
    python -m benchmarks.gpu_smoke --cpu-small --threads 1
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ARCHITECTURES = ("standard", "topk", "jumprelu", "gated")
"""sae-lens's own architectures the suite trains (this package's, ``replication-*``, are added from the registry)."""


@dataclass(frozen=True)
class Sizes:
    pairwise: tuple[tuple[int, int], ...]
    """(d_sae, d_in) of the pairwise score."""
    pca: tuple[int, int]
    """(tokens, d) of streaming PCA."""
    density: tuple[int, int, int]
    """(tokens, d_in, d_sae) of the density pass."""
    sae: tuple[int, int]
    """(d_in, d_sae) of the SAEs trained."""
    sae_steps: int
    sae_batch: int
    check: tuple[int, int]
    """(d_model, d_sae) of the user check's model and SAE."""
    check_tokens: int
    cache_tokens: int
    """Train tokens of the real tier's activation cache (a quarter as many held out)."""
    tinylm_steps: int | None
    """LM training steps (``None``: the smoke profile's own)."""
    tinylm_tokens: tuple[int, int] | None
    """(train, held-out) tokens of the tiny LM's activation cache (``None``: the smoke profile's own)."""
    gemm_n: int


FULL = Sizes(pairwise=((16_384, 2304), (131_072, 4096)), pca=(250_000, 2304), density=(250_000, 2304, 16_384),
             sae=(2304, 16_384), sae_steps=200, sae_batch=4096, check=(2304, 16_384), check_tokens=32_768,
             cache_tokens=65_536, tinylm_steps=None, tinylm_tokens=None, gemm_n=2048)
SMALL = Sizes(pairwise=((1024, 256), (2048, 512)), pca=(16_384, 256), density=(16_384, 256, 1024),
              sae=(64, 256), sae_steps=20, sae_batch=128, check=(128, 512), check_tokens=2048,
              cache_tokens=2048, tinylm_steps=20, tinylm_tokens=(2000, 500), gemm_n=512)


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    seconds: float
    ratio: float | None = None
    error: str = ""


class RandomActivations:
    """A ``TrainingData`` of random rows (a fixed CPU pool drawn with replacement, as the activation caches
    are) whose SAEs train on ``device`` (:func:`replication.training.data_device`)."""

    def __init__(self, d_in: int, rows: int, device: str, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        scale = torch.rand(d_in, generator=g) + 0.5  # unequal variances: not a whitened stream
        self.pool = torch.randn(rows, d_in, generator=g) * scale
        self.d_in, self.device = d_in, device

    def config(self) -> dict[str, Any]:
        return {"kind": "gpu-smoke-random", "d_in": self.d_in, "rows": len(self.pool)}

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.pool[torch.randint(0, len(self.pool), (n,), generator=generator)]


def architectures() -> list[str]:
    """sae-lens's architectures the suite trains and every ``replication-*`` one this package registers."""
    import replication.saes  # noqa: F401  (registers them)
    from sae_lens.registry import SAE_TRAINING_CLASS_REGISTRY

    return [*ARCHITECTURES, *sorted(a for a in SAE_TRAINING_CLASS_REGISTRY if a.startswith("replication-"))]


def _options(architecture: str, d_sae: int) -> dict[str, Any]:
    return {"k": min(64, d_sae // 8)} if architecture.endswith("topk") else {}


def _trained_ok(sae: Any, device: str) -> None:
    from replication.checks import check_finite_weights

    if sae.W_dec.device.type != torch.device(device).type:
        raise RuntimeError(f"the SAE trained on {sae.W_dec.device}, not {device}")
    check_finite_weights(sae)


def train_step(architecture: str, sizes: Sizes, data: RandomActivations, clock: Any) -> float:
    from benchmarks.bench_kernels import around, timed
    from replication.training import SAESpec, fit

    d_in, d_sae = sizes.sae
    spec = SAESpec.make(architecture, d_sae, training_samples=sizes.sae_steps * sizes.sae_batch,
                        batch_size=sizes.sae_batch, lr=3e-4, **_options(architecture, d_sae))
    trained: list[Any] = []
    seconds, before, after = around(lambda: timed(lambda: trained.append(fit(spec, data, seed=0)), clock), clock)
    _trained_ok(trained[0], data.device)
    flops = 12 * sizes.sae_steps * sizes.sae_batch * d_in * d_sae
    ratio = flops / seconds / ((before + after) / 2)
    print(f"train {architecture} {d_in} -> {d_sae}, {sizes.sae_steps} steps x {sizes.sae_batch}: {seconds:8.2f} s, "
          f"{1000 * seconds / sizes.sae_steps:.1f} ms/step, ~{ratio:5.3f} x GEMM", flush=True)
    return ratio


def tinylm_step(root: Path, device: str, sizes: Sizes) -> None:
    """The smoke profile's corpus, tokenizer, LM and activation cache on ``device``, then an SAE on the cache."""
    from replication.lm.cache import CachedActivations
    from replication.tinylm.activations import ActivationsConfig, build_activations
    from replication.tinylm.config import artifacts, stage_params
    from replication.tinylm.corpus import CorpusConfig, build_corpus
    from replication.tinylm.tokenizer import build_tokenizer
    from replication.tinylm.train import train_lm
    from replication.training import SAESpec, fit

    paths = artifacts("smoke", root)
    build_corpus(CorpusConfig.from_params(stage_params("corpus", "smoke")), paths.corpus)
    tok = stage_params("tokenizer", "smoke")
    build_tokenizer(paths.corpus, paths.tokenizer, tok["vocab_size"], tok.get("min_frequency", 2))
    lm = stage_params("lm", "smoke")
    if sizes.tinylm_steps is not None:
        lm = {**lm, "steps": sizes.tinylm_steps, "lr_warmup_steps": min(lm["lr_warmup_steps"], sizes.tinylm_steps)}
    metrics = train_lm(lm, paths.tokenizer, paths.lm, device=device)
    if metrics.get("device", "cpu") != device:
        raise RuntimeError(f"the tiny LM's metrics record device {metrics.get('device', 'cpu')!r}, not {device!r}")
    params = stage_params("activations", "smoke")
    if sizes.tinylm_tokens is not None:
        params = {**params, "train_tokens": sizes.tinylm_tokens[0], "heldout_tokens": sizes.tinylm_tokens[1]}
    manifest = build_activations(ActivationsConfig.from_params(params), paths.lm, paths.tokenizer,
                                 paths.activations, device=device)
    if manifest.get("device", "cpu") != device:
        raise RuntimeError(f"the activation cache records device {manifest.get('device', 'cpu')!r}, not {device!r}")
    data = CachedActivations(paths.activations, params["hooks"]["resid_post"])
    if data.device != device:
        raise RuntimeError(f"CachedActivations chose {data.device!r}, not {device!r}")
    sae = fit(SAESpec.make("topk", 4 * data.d_in, k=8, training_samples=50 * 256, batch_size=256), data, seed=0)
    _trained_ok(sae, device)
    print(f"tinylm on {device}: held-out loss {metrics['heldout_loss']:.3f} (unigram "
          f"{metrics['unigram_heldout_loss']:.3f}), {manifest['splits']['train']['tokens']} cached train tokens, "
          f"an SAE trained on them", flush=True)


def check_step(built: tuple[Path, Path, Path], out: Path, device: str, sizes: Sizes) -> None:
    from replication.check import check
    from replication.lm.text import TextSource

    model_dir, sae_dir, text = built
    verdicts = check(str(model_dir), str(sae_dir), text=TextSource(folder=str(text)), n_tokens=sizes.check_tokens,
                     device=device, results_dir=out / "results", quiet=True)
    if not verdicts:
        raise RuntimeError("the check returned no verdict")
    counts = Counter(v.status.value for v in verdicts)
    print(f"check on d_model {sizes.check[0]}, d_sae {sizes.check[1]}, {sizes.check_tokens} tokens, {device}: "
          f"{len(verdicts)} claims ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})", flush=True)


def cache_step(built: tuple[Path, Path, Path], device: str, sizes: Sizes) -> None:
    """The real tier's path: an activation cache of the model (``LMActivations``), then an SAE trained from it."""
    from replication.lm.cache import ActivationCacheSpec, LMActivations
    from replication.lm.text import TextSource
    from replication.training import SAESpec, fit

    model_dir, _, text = built
    hooks = ("blocks.1.hook_resid_post", "blocks.1.hook_resid_pre+blocks.1.hook_attn_out")
    # held-out rows from an eval text of their own (bimodality §5.1's layout; here the same folder): one
    # stream per split, each with build_activation_cache's one-batch margin
    source = TextSource(folder=str(text))
    spec = ActivationCacheSpec(model=str(model_dir), hooks=hooks, text=source, eval_text=source,
                               train_tokens=sizes.cache_tokens, heldout_tokens=sizes.cache_tokens // 4,
                               ctx_len=128, batch_size=16, name="gpu-smoke")
    data = LMActivations(spec, hooks[0])
    if data.device != device:
        raise RuntimeError(f"LMActivations chose {data.device!r}, not {device!r}")
    if data.manifest()["device"] != device:
        raise RuntimeError(f"the activation cache was built on {data.manifest()['device']!r}, not {device!r}")
    d_in, d_sae = sizes.sae
    steps = max(20, sizes.sae_steps // 4)
    sae = fit(SAESpec.make("standard", d_sae, training_samples=steps * sizes.sae_batch,
                           batch_size=sizes.sae_batch), data, seed=0)
    _trained_ok(sae, device)
    print(f"real-tier activation cache on {device}: {len(hooks)} hooks, {sizes.cache_tokens} train tokens; a "
          f"standard SAE -> {d_sae} trained {steps} steps from it", flush=True)


def run(name: str, fn: Callable[[], float | None], device: str, steps: list[Step]) -> None:
    print(f"--- {name}", flush=True)
    start = time.perf_counter()
    try:
        ratio = fn()
        if device == "cuda":
            torch.cuda.synchronize()  # an asynchronous CUDA error belongs to this step
    except Exception as err:  # noqa: BLE001  (every step runs; the summary and the exit status say what failed)
        traceback.print_exc()
        steps.append(Step(name, False, time.perf_counter() - start, error=f"{type(err).__name__}: {err}"[:300]))
    else:
        steps.append(Step(name, True, time.perf_counter() - start, ratio))
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


def summary(steps: list[Step], header: str, wall: float) -> str:
    failed = [s for s in steps if not s.ok]
    lines = [f"== gpu smoke summary: {header}; {len(steps)} steps, {len(failed)} failed, {wall:.0f} s wall =="]
    for s in steps:
        ratio = f"{s.ratio:7.3f} x GEMM" if s.ratio is not None else f"{'-':>7}       "
        lines.append(f"{'ok' if s.ok else 'FAIL':<5} {s.name:<44} {ratio} {s.seconds:8.1f} s"
                     + (f"  {s.error}" if s.error else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-small", action="store_true",
                        help="the CPU at reduced sizes (the default where torch sees no CUDA device)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: 1 with --cpu-small)")
    parser.add_argument("--only", action="append", default=[],
                        help="run only the steps whose name starts with this (repeatable): pairwise, pca, "
                             "density, train, tinylm, check, real-tier")
    args = parser.parse_args(argv)
    small = args.cpu_small or not torch.cuda.is_available()
    device = "cpu" if small else "cuda"
    sizes = SMALL if small else FULL
    threads = args.threads or (1 if small else torch.get_num_threads())
    torch.set_num_threads(threads)
    os.environ["SAE_REPLICATION_DEVICE"] = device  # every default device of the suite agrees with this run's
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.pop("SAE_REPLICATION_TEXT", None)  # the steps name their own text

    from benchmarks.bench_kernels import Clock, bench_density, bench_pairwise, bench_pca, gemm_rate
    from benchmarks.bench_user_check import build

    clock = Clock(device, gemm_n=sizes.gemm_n)
    name = torch.cuda.get_device_name(0) if device == "cuda" else f"{threads} thread(s)"
    base = gemm_rate(clock)
    scale = "reduced sizes" if small else "the papers' sizes"
    header = (f"{device} ({name}), {scale}, {clock.name}, float32 GEMM "
              f"{base / 1e9:.1f} GFLOP/s ({sizes.gemm_n}^2)")
    print(header, flush=True)
    wanted = tuple(args.only)
    steps: list[Step] = []
    start = time.perf_counter()

    def step(label: str, fn: Callable[[], float | None]) -> None:
        if not wanted or label.startswith(wanted):
            run(label, fn, device, steps)

    block = 8192 if device == "cuda" else 512
    for d_sae, d_in in sizes.pairwise:
        for mode in ("float32", "bfloat16", *(("tf32",) if device == "cuda" else ())):
            step(f"pairwise {d_sae} x {d_in} {mode}",
                 lambda d_sae=d_sae, d_in=d_in, mode=mode: bench_pairwise(d_sae, d_in, clock, block, mode))
    step(f"pca {sizes.pca[0]} x {sizes.pca[1]}", lambda: bench_pca(*sizes.pca, clock))
    step(f"density {sizes.density[0]} x {sizes.density[1]} -> {sizes.density[2]}",
         lambda: bench_density(*sizes.density, clock, naive=False))
    with tempfile.TemporaryDirectory(prefix="gpu-smoke-") as tmp:
        out = Path(tmp)
        os.environ["SAE_REPLICATION_CACHE"] = str(out / "cache")
        made: dict[str, Any] = {}

        def once(key: str, make: Callable[[], Any]) -> Any:
            if key not in made:
                made[key] = make()
            return made[key]

        def pool() -> RandomActivations:
            return once("pool", lambda: RandomActivations(sizes.sae[0], 8 * sizes.sae_batch, device))

        def user() -> tuple[Path, Path, Path]:  # the model, the SAE and the text of the check
            return once("user", lambda: build(out / "user", *sizes.check))

        training = not wanted or any(w.startswith("train") or "train".startswith(w) for w in wanted)
        for arch in architectures() if training else ():  # (listing them imports sae-lens)
            step(f"train {arch}", lambda arch=arch: train_step(arch, sizes, pool(), clock))
        made.pop("pool", None)
        step("tinylm smoke profile", lambda: tinylm_step(out / "tinylm", device, sizes))
        step(f"check {sizes.check[0]} -> {sizes.check[1]}", lambda: check_step(user(), out, device, sizes))
        step("real-tier activation cache + SAE", lambda: cache_step(user(), device, sizes))
    text = summary(steps, header, time.perf_counter() - start)
    print(text, flush=True)
    return 0 if steps and all(s.ok for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
