"""The Spearman bootstrap interval (``replication.metrics.antipodal.spearman_bootstrap_ci``) against the
one-resample-at-a-time definition it replaces.

Not a test: a measurement. For each number of latents ``n`` it times

- ``vectorised``: :func:`~replication.metrics.antipodal.spearman_bootstrap_ci` (scipy's resamples of each
  value's index among the sorted distinct values, average ranks from per-value counts, Pearson's r of the
  ranks over all resamples at once);
- ``per-resample``: ``scipy.stats.bootstrap`` with ``vectorized=False`` and ``scipy.stats.spearmanr`` on each
  resample (0 where a resample is constant), the code before it;

on 1,000 resamples of (x, y = x + noise), and prints the best of three CPU times of each, their ratio, and the largest difference
of the interval's ends (float64 rounding: the resamples and the ranks are the same).

Usage::

    python -m benchmarks.bench_bootstrap              # from the repository root (~40 s)
    python -m benchmarks.bench_bootstrap --sizes 128 1024
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.stats
import torch

from replication.metrics.antipodal import spearman_bootstrap_ci


def per_resample(x: np.ndarray, y: np.ndarray, n_resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """The interval's definition, one resample at a time (the code before the vectorised statistic; the
    instrument tests' reference too)."""
    def rho(u: np.ndarray, v: np.ndarray) -> float:
        if np.ptp(u) == 0 or np.ptp(v) == 0:
            return 0.0
        return float(scipy.stats.spearmanr(u, v).statistic)

    res = scipy.stats.bootstrap((x, y), rho, paired=True, vectorized=False, n_resamples=n_resamples,
                                method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _timed(f, *args, repeats: int = 3) -> tuple[float, tuple[float, float]]:
    """The best of ``repeats`` runs' CPU time (the first run of a size also pays for its page faults)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        out = f(*args)
        best = min(best, time.process_time() - start)
    return best, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 1024, 4096, 16384])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{'n':>7} {'vectorised s':>13} {'per-resample s':>15} {'ratio':>7} {'max |diff|':>11}")
    for n in args.sizes:
        g = torch.Generator().manual_seed(n)
        x = torch.randn(n, generator=g, dtype=torch.float64)
        y = x + torch.randn(n, generator=g, dtype=torch.float64)
        t_new, new = _timed(spearman_bootstrap_ci, x, y)
        t_old, old = _timed(per_resample, x.numpy(), y.numpy())
        diff = max(abs(a - b) for a, b in zip(new, old))
        print(f"{n:>7} {t_new:>13.3f} {t_old:>15.3f} {t_old / t_new:>6.1f}x {diff:>11.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
