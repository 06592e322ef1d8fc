"""Benchmarks of the full-scale kernels, as ratios of this machine's own GEMM rate.

Not a test: it prints throughput, so that a regression or a slow device shows as a ratio, whatever the
hardware. Kernels (sizes of the papers' real targets with ``--full``; CPU-sized by default):

- pairwise score s_i (antipodal §3.3) at 16k x 2304 (Gemma Scope), 32k x 768 (GPT-2 TopK),
  131k x 4096 (Llama Scope; 16k x 4096 by default). :func:`pairwise_scores` computes only the tiles of the
  upper triangle of the two symmetric cosine matrices, so it is credited only with the GEMM work those
  tiles do (``2 * 2 * m * k * d_in`` per ``m x k`` tile: about half of the full product, plus the
  diagonal tiles' redundant lower halves); the "effective full-product" rate (``2 * 2 * d_sae^2 * d_in``
  over the same time) is what a full-product algorithm would need to match it. ``x GEMM`` is against the
  float32 GEMM rate; bfloat16 runs also print the ratio to the bfloat16 GEMM rate;
- streaming PCA (float64 moment sums + eigh) over 250k x 2304 tokens (antipodal §3.1; 31k by default):
  credited with ``2 * tokens * d^2`` (the ``x^T x`` accumulation), against the float32 and float64 GEMM;
- the density pass (:class:`replication.density.FireCounter`, as the antipodal analysis runs it): fire
  counts of 250k tokens (31k by default) through a 16k-latent JumpReLU SAE (d_in 2304), credited with the
  encoder GEMM ``2 * tokens * d_in * d_sae``; then the naive ``fire_counts(sae.encode(x))`` for reference
  (``--no-naive``: not).

Timing: with one CPU thread, the process's CPU time (``time.process_time``), so that other processes
sharing the cores do not count against the kernel (cache and memory-bandwidth contention still do);
otherwise wall time, CUDA synchronised. The GEMM rate is measured (best of 3 square ``2048^2`` float32
products; ``Clock.gemm_n``) right before and right after each kernel, and the ratio is against their mean:
both printed, their spread is the noise floor of the ratio. Each ``bench_*`` prints its line and returns
that ratio (work done over the float32 GEMM rate), for :mod:`benchmarks.gpu_smoke`.

Usage::

    python -m benchmarks.bench_kernels --threads 1            # from the repository root; CPU-sized (~3 min)
    python -m benchmarks.bench_kernels --full --device cuda   # the papers' sizes, TF32 and bf16 too
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from replication.density import FireCounter
from replication.metrics import fire_counts
from replication.metrics.antipodal import (
    _upper_triangle_tiles,
    add_moments,
    moment_sums,
    pairwise_scores,
    top_principal_components,
)


class Clock:
    """CPU time of this process with one CPU thread (robust to other processes), else synchronised wall time."""

    def __init__(self, device: str, gemm_n: int = 2048) -> None:
        self.device = device
        self.gemm_n = gemm_n  # the side of the square matmul whose rate is every ratio's baseline
        self.cpu_time = device == "cpu" and torch.get_num_threads() == 1
        self.name = "process CPU time" if self.cpu_time else "wall time"

    def __call__(self) -> float:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.process_time() if self.cpu_time else time.perf_counter()


def timed(fn: Callable[[], object], clock: Clock, repeats: int = 1, warmup: bool = False) -> float:
    """Best time of ``repeats`` runs (after one untimed warm-up run if ``warmup``)."""
    if warmup:
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def gemm_rate(clock: Clock, dtype: torch.dtype = torch.float32, n: int | None = None) -> float:
    """FLOP/s of one square ``n x n`` matmul (default ``clock.gemm_n``; best of 3 after a warm-up): the
    baseline of every ratio."""
    n = n or clock.gemm_n
    a = torch.randn(n, n, device=clock.device).to(dtype)
    b = torch.randn(n, n, device=clock.device).to(dtype)
    return 2 * n**3 / timed(lambda: a @ b, clock, repeats=3, warmup=True)


def around(fn: Callable[[], float], clock: Clock, dtype: torch.dtype = torch.float32) -> tuple[float, float, float]:
    """``(seconds of fn, GEMM rate before, GEMM rate after)``."""
    before = gemm_rate(clock, dtype)
    seconds = fn()
    return seconds, before, gemm_rate(clock, dtype)


def _ratio_text(flops: float, seconds: float, before: float, after: float) -> str:
    base = (before + after) / 2
    return f"{flops / seconds / 1e9:8.1f} GFLOP/s = {flops / seconds / base:5.3f} x GEMM ({before / 1e9:.0f}/{after / 1e9:.0f})"


def bench_pairwise(d_sae: int, d_in: int, clock: Clock, block: int, mode: str) -> float:
    device = clock.device
    g = torch.Generator(device=device).manual_seed(0)
    W_enc = torch.randn(d_in, d_sae, device=device, generator=g)
    W_dec = torch.randn(d_sae, d_in, device=device, generator=g)
    options = {"float32": {}, "tf32": {"allow_tf32": True}, "bfloat16": {"dtype": torch.bfloat16}}[mode]
    seconds, before, after = around(
        lambda: timed(lambda: pairwise_scores(W_enc, W_dec, chunk_size=block, **options), clock), clock)
    done = sum(4 * (i1 - i0) * (j1 - j0) * d_in for i0, i1, j0, j1 in _upper_triangle_tiles(d_sae, block))
    full = 4 * d_sae**2 * d_in
    line = (f"pairwise {d_sae:>7} x {d_in:<5} {mode:>8} block {block:>5}: {seconds:8.2f} s, work done "
            f"{_ratio_text(done, seconds, before, after)}; effective full product "
            f"{full / seconds / ((before + after) / 2):5.3f} x GEMM")
    if mode == "bfloat16":
        bf16 = gemm_rate(clock, torch.bfloat16)
        line += f"; work done {done / seconds / bf16:5.3f} x bf16 GEMM ({bf16 / 1e9:.0f})"
    print(line, flush=True)
    return done / seconds / ((before + after) / 2)


def bench_pca(n_tokens: int, d: int, clock: Clock, batch: int = 8192) -> float:
    device = clock.device
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, d, device=device, generator=g)

    def run() -> None:
        sums = None
        for _ in range(n_tokens // batch):
            s = moment_sums(x)
            sums = s if sums is None else add_moments(sums, s)
        top_principal_components(sums, min(300, d))

    seconds, before, after = around(lambda: timed(run, clock), clock)
    flops = 2 * (n_tokens // batch) * batch * d * d  # the x^T x accumulation dominates
    f64 = gemm_rate(clock, torch.float64)
    print(f"streaming PCA {n_tokens} x {d} (float64): {seconds:8.2f} s, {_ratio_text(flops, seconds, before, after)}"
          f"; {flops / seconds / f64:5.3f} x float64 GEMM ({f64 / 1e9:.0f})", flush=True)
    return flops / seconds / ((before + after) / 2)


def bench_density(n_tokens: int, d_in: int, d_sae: int, clock: Clock, batch: int = 4096, naive: bool = True) -> float:
    """The production density pass, :class:`replication.density.FireCounter` as the antipodal analysis
    (``measure``) runs it: fire counts over a stream of ``batch``-token batches, keeping 128 candidate
    columns; and, for reference, the naive ``fire_counts(sae.encode(x))`` it replaced. Returns the production
    pass's ratio to GEMM."""
    from sae_lens.registry import get_sae_class

    device = clock.device
    cls, cfg_cls = get_sae_class("jumprelu")
    sae = cls(cfg_cls(d_in=d_in, d_sae=d_sae, device=device))
    x = torch.randn(batch, d_in, device=device)
    flops = 2 * (n_tokens // batch) * batch * d_in * d_sae

    def production() -> None:
        counter = FireCounter(sae, columns=range(0, d_sae, d_sae // 128))
        assert counter.fast
        for _ in range(n_tokens // batch):
            counter.update(x)

    def reference() -> None:
        counts = torch.zeros(d_sae, device=device, dtype=torch.int64)
        with torch.no_grad():
            for _ in range(n_tokens // batch):
                counts += fire_counts(sae.encode(x))

    ratios = {}
    for name, run in [("FireCounter", production)] + ([("naive encode + fire_counts", reference)] if naive else []):
        seconds, before, after = around(lambda run=run: timed(run, clock), clock)
        print(f"density pass {n_tokens} tokens x {d_in} -> {d_sae}, {name}: {seconds:8.2f} s, "
              f"{_ratio_text(flops, seconds, before, after)}", flush=True)
        ratios[name] = flops / seconds / ((before + after) / 2)
    return ratios["FireCounter"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the papers' full sizes (GPU, or patience)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--block", type=int, default=None,
                        help="pairwise tile size (default 512 on CPU, measured best of 256-2048 here; 8192 on CUDA)")
    parser.add_argument("--only", choices=["pairwise", "pca", "density"], action="append",
                        help="run only these kernels (repeatable)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive density pass (the reference)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = Clock(args.device)
    cuda = args.device.startswith("cuda")
    block = args.block or (8192 if cuda else 512)
    only = set(args.only or ["pairwise", "pca", "density"])
    base = gemm_rate(clock)
    print(f"device {args.device}, {torch.get_num_threads()} threads, {clock.name}: "
          f"float32 GEMM {base / 1e9:.1f} GFLOP/s", flush=True)
    if "pairwise" in only:
        # 16k x 2304 and 32k x 768 run at full size even on CPU (~15-20 s each on one core); 131k x 4096 at 1/8
        sizes = [(16_384, 2304), (32_768, 768), (131_072 if args.full else 16_384, 4096)]
        modes = ["float32", "bfloat16"] + (["tf32"] if cuda else [])
        for d_sae, d_in in sizes:
            for mode in modes:
                bench_pairwise(d_sae, d_in, clock, block, mode)
    scale = 1 if args.full else 8
    if "pca" in only:
        bench_pca(250_000 // scale, 2304, clock)
    if "density" in only:
        bench_density(250_000 // scale, 2304, 16_384, clock, naive=not args.no_naive)


if __name__ == "__main__":
    main()
