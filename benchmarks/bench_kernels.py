"""Benchmarks of the full-scale kernels, as ratios of this machine's own float32 GEMM rate.

Not a test: it prints throughput, so that a regression or a slow device shows as a ratio, whatever the
hardware. Kernels (sizes of the papers' real targets with ``--full``; a CPU-sized fraction by default):

- pairwise score s_i (antipodal §3.3) at 16k x 2304 (Gemma Scope), 32k x 768 (GPT-2 TopK),
  131k x 4096 (Llama Scope); FLOPs counted as the two cosine GEMMs the exact algorithm needs
  (``2 * 2 * d_sae^2 * d_in`` for the full product; an algorithm that exploits symmetry does half of it,
  and is credited only with the work it does);
- streaming PCA (float64 moment sums + eigh) over 250k x 2304 tokens (antipodal §3.1);
- the density pass: encoding 250k tokens through a 16k-latent SAE.

Usage::

    python benchmarks/bench_kernels.py                 # CPU-sized (a few minutes on 2 cores)
    python benchmarks/bench_kernels.py --full --device cuda
    python benchmarks/bench_kernels.py --threads 2
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from replication.metrics.antipodal import add_moments, moment_sums, pairwise_scores, top_principal_components


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: str, repeats: int = 3) -> float:
    """Best wall time of ``repeats`` runs after one warm-up."""
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def gemm_rate(device: str, dtype: torch.dtype = torch.float32, n: int = 2048) -> float:
    """FLOP/s of one square ``n x n`` matmul: the baseline every ratio below is against."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / timed(lambda: a @ b, device)


def bench_pairwise(d_sae: int, d_in: int, device: str, base: float, dtype: torch.dtype) -> None:
    g = torch.Generator(device=device).manual_seed(0)
    W_enc = torch.randn(d_in, d_sae, device=device, generator=g, dtype=dtype)
    W_dec = torch.randn(d_sae, d_in, device=device, generator=g, dtype=dtype)
    seconds = timed(lambda: pairwise_scores(W_enc, W_dec, chunk_size=4096), device, repeats=1)
    flops_full = 2 * 2 * d_sae**2 * d_in
    print(f"pairwise {d_sae:>7} x {d_in:<5} {str(dtype):>15}: {seconds:8.2f} s, "
          f"{flops_full / seconds / 1e9:8.1f} full-product GFLOP/s = {flops_full / seconds / base:5.2f} x GEMM")


def bench_pca(n_tokens: int, d: int, device: str, base: float, batch: int = 8192) -> None:
    g = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, d, device=device, generator=g)

    def run() -> None:
        sums = None
        for _ in range(n_tokens // batch):
            s = moment_sums(x)
            sums = s if sums is None else add_moments(sums, s)
        top_principal_components(sums, min(300, d))

    seconds = timed(run, device, repeats=1)
    flops = 2 * n_tokens * d * d  # the x^T x accumulation dominates
    print(f"streaming PCA {n_tokens} x {d}: {seconds:8.2f} s, {flops / seconds / 1e9:8.1f} GFLOP/s "
          f"= {flops / seconds / base:5.2f} x float32 GEMM (accumulates in float64)")


def bench_density(n_tokens: int, d_in: int, d_sae: int, device: str, base: float, batch: int = 4096) -> None:
    from sae_lens.registry import get_sae_class

    cls, cfg_cls = get_sae_class("jumprelu")
    sae = cls(cfg_cls(d_in=d_in, d_sae=d_sae, device=device))
    x = torch.randn(batch, d_in, device=device)

    def run() -> None:
        counts = torch.zeros(d_sae, device=device, dtype=torch.int64)
        with torch.no_grad():
            for _ in range(n_tokens // batch):
                counts += (sae.encode(x) != 0).sum(0)

    seconds = timed(run, device, repeats=1)
    flops = 2 * n_tokens * d_in * d_sae
    print(f"density pass {n_tokens} tokens x {d_in} -> {d_sae}: {seconds:8.2f} s, "
          f"{flops / seconds / 1e9:8.1f} GFLOP/s = {flops / seconds / base:5.2f} x GEMM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the papers' full sizes (GPU, or patience)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = gemm_rate(args.device)
    print(f"device {args.device}, {torch.get_num_threads()} threads: float32 GEMM {base / 1e9:.1f} GFLOP/s")
    scale = 1 if args.full else 8
    sizes = [(16_384, 2304), (32_768, 768), (131_072, 4096)]
    dtypes = [torch.float32] + ([torch.bfloat16] if args.device.startswith("cuda") else [])
    for d_sae, d_in in sizes:
        for dtype in dtypes:
            bench_pairwise(d_sae // scale, d_in, args.device, base, dtype)
    bench_pca(250_000 // scale, 2304, args.device, base)
    bench_density(250_000 // scale, 2304, 16_384, args.device, base)


if __name__ == "__main__":
    main()
