"""The topk papers' toy tier: sparse features in superposition, sae-lens TopK and ReLU+L1 sweeps on them.

Data: :class:`toy_models.SparseFeatureToy` (128 features in 32 dimensions, each firing with p = 0.03).
Sweeps: sae-lens ``topk`` at k in {2, 4, 8} and ``standard`` (ReLU + decoder-norm-weighted L1) at lambda in
{0.1, 0.3, 1, 3}, d_sae = 128, 2,000 steps of 256 samples, lr 1e-3; the control ``toy-sparse-low-l1`` has
lambda 0.01 only. Evaluation: 16,384 held-out tokens from a generator independent of training. How the
settings were chosen: ``NOTES.md``.
"""

from __future__ import annotations

import torch

from replication.claims import Tier
from replication.papers.topk.analysis import DeadMetrics, SweepMetrics, Trained, measure_sweeps
from replication.targets import Analysis, Measured, Target
from replication.training import SAESpec, train_sae
from toy_models import SparseFeatureToy

TOPK_KS = (2, 4, 8)
L1_COEFFICIENTS = (0.1, 0.3, 1.0, 3.0)
#: the negative control's ReLU+L1 sweep: lambda near 0, where no latent should die
CONTROL_L1_COEFFICIENTS = (0.01,)
D_SAE = 128
N_EVAL = 16_384
_TRAIN = dict(training_samples=256 * 2000, batch_size=256, lr=1e-3)

TOY_SPARSE = Target(
    name="toy-sparse",
    tier=Tier.TOY,
    description="128 sparse features (p = 0.03) in superposition in 32 dimensions; sae-lens TopK and "
                "ReLU+L1 sweeps at d_sae = 128",
    seeds=(0, 1, 2),
)
TOY_SPARSE_LOW_L1 = Target(
    name="toy-sparse-low-l1",
    tier=Tier.TOY,
    description="negative control for topk.dead_latents: the same data, ReLU+L1 at lambda = 0.01 only (near 0: "
                "no latent should die); the TopK sweep as on toy-sparse",
    seeds=(0, 1, 2),
    control=True,
    trains_with=TOY_SPARSE.name,
)
_L1_BY_TARGET = {TOY_SPARSE.name: L1_COEFFICIENTS, TOY_SPARSE_LOW_L1.name: CONTROL_L1_COEFFICIENTS}


def sweep_specs(l1_coefficients: tuple[float, ...] = L1_COEFFICIENTS) -> list[SAESpec]:
    return ([SAESpec.make("topk", D_SAE, k=k, **_TRAIN) for k in TOPK_KS]
            + [SAESpec.make("standard", D_SAE, l1_coefficient=lam, **_TRAIN) for lam in l1_coefficients])


def measure(target: Target, seed: int | None) -> Measured:
    """Train (cached) both sweeps of ``target`` and measure them on held-out tokens with known features."""
    if seed is None:
        raise ValueError(f"toy target {target.name} needs an integer seed")
    data = SparseFeatureToy(seed=seed)
    true_acts = data.sample_features(N_EVAL, torch.Generator().manual_seed(1_000_003 + seed))
    saes = []
    for spec in sweep_specs(_L1_BY_TARGET[target.name]):
        opts = dict(spec.options)
        setting = opts["k"] if spec.architecture == "topk" else opts["l1_coefficient"]
        saes.append(Trained(spec.architecture, float(setting), train_sae(spec, data, seed).sae))
    return Measured(measure_sweeps(saes, data.embed(true_acts), true_acts))


ANALYSES = (
    Analysis("topk-toy", Tier.TOY, (TOY_SPARSE,), SweepMetrics, measure),
    # topk.dead_latents on its own analysis (the same measurement), so that its negative control (one lambda
    # near 0, no sweep to compare) is bound to it alone
    Analysis("topk-toy-dead", Tier.TOY, (TOY_SPARSE, TOY_SPARSE_LOW_L1), DeadMetrics, measure),
)
