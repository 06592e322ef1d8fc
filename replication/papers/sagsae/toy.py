"""The sagsae paper's toy tier: anticorrelated feature pairs on shared directions, and a one-signed control.

Data (:class:`toy_models.sagsae.BipolarFeatureToy`, d_in 32, every direction firing with p = 0.05):
``toy-sagsae-bipolar``: 32 directions carrying an anticorrelated pair each and 32 one-signed directions;
``toy-sagsae-unipolar`` (negative control): 64 one-signed directions. SA-GSAE at H = 64 (both penalty
readings), Gated and JumpReLU at 2H = 128, 750 steps of 256 samples, lr 1e-3; ablations on the bipolar cell.
Evaluation: 16,384 held-out tokens from a generator independent of training. How the grids were chosen:
``NOTES.md``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from replication.claims import Tier
from replication.papers.sagsae.analysis import AblationMetrics, SweepMetrics, ablation_metrics, sweep_metrics
from replication.papers.sagsae.sweeps import L0_GATE, READINGS, Ablations, Sweeps, SweepSettings, run_ablations, run_sweeps
from replication.targets import Analysis, Measured, Target
from replication.training import SAESpec
from toy_models.sagsae import BipolarFeatureToy

D_IN = 32
TOY = SweepSettings(
    h=64,
    sagsae_lambdas=(0.03, 0.1, 0.3, 1.0),
    gated_lambdas=(0.3, 0.6, 1.0, 2.0),
    operating_lambda=1.0,
    train=tuple(dict(training_samples=256 * 750, batch_size=256, lr=1e-3).items()),
)
H = TOY.h
SAGSAE_LAMBDAS = TOY.sagsae_lambdas
GATED_LAMBDAS = TOY.gated_lambdas
OPERATING_LAMBDA = TOY.operating_lambda
N_EVAL = 16_384

TOY_BIPOLAR = Target(
    name="toy-sagsae-bipolar",
    tier=Tier.TOY,
    description="32 anticorrelated (either-sign) + 32 one-signed directions in 32 dims; SA-GSAE(64) vs "
                "Gated(128) sweeps and the ablations",
    seeds=(0, 1, 2),
)
TOY_UNIPOLAR = Target(
    name="toy-sagsae-unipolar",
    tier=Tier.TOY,
    description="control: 64 one-signed directions in 32 dims, no anticorrelated structure; SA-GSAE(64) vs "
                "Gated(128) sweeps",
    seeds=(0, 1, 2),
    control=True,
)


def toy_data(target: Target, seed: int) -> BipolarFeatureToy:
    if target.name == TOY_BIPOLAR.name:
        return BipolarFeatureToy(d_in=D_IN, n_bipolar=32, n_unipolar=32, seed=seed)
    if target.name == TOY_UNIPOLAR.name:
        return BipolarFeatureToy(d_in=D_IN, n_bipolar=0, n_unipolar=64, seed=seed)
    raise KeyError(f"no sagsae toy data for target {target.name!r}; known: {TOY_BIPOLAR.name}, {TOY_UNIPOLAR.name}")


def sagsae_spec(lam: float, reading: str = L0_GATE, **options: object) -> SAESpec:
    return TOY.sagsae_spec(lam, reading, **options)


def gated_spec(lam: float) -> SAESpec:
    return TOY.gated_spec(lam)


def _eval_tokens(data: BipolarFeatureToy, seed: int) -> Tensor:
    return data.sample(N_EVAL, torch.Generator().manual_seed(1_000_003 + seed))


def sweeps(target: Target, seed: int) -> Sweeps:
    """Both sweeps of one toy (target, seed), with every per-latent array (for the report's figures)."""
    data = toy_data(target, seed)
    return run_sweeps(TOY, data, seed, _eval_tokens(data, seed))


def ablations(target: Target, seed: int) -> dict[str, Ablations]:
    data = toy_data(target, seed)
    return {r: run_ablations(TOY, data, seed, _eval_tokens(data, seed), r) for r in READINGS}


def _seed(target: Target, seed: int | None) -> int:
    if seed is None:
        raise ValueError(f"toy target {target.name} needs an integer seed")
    return seed


def measure_sweeps(target: Target, seed: int | None) -> Measured:
    return Measured(sweep_metrics(TOY, sweeps(target, _seed(target, seed))))


def measure_ablations(target: Target, seed: int | None) -> Measured:
    return Measured(ablation_metrics(ablations(target, _seed(target, seed))))


ANALYSES = (
    Analysis("sagsae-toy", Tier.TOY, (TOY_BIPOLAR, TOY_UNIPOLAR), SweepMetrics, measure_sweeps),
    Analysis("sagsae-toy-ablations", Tier.TOY, (TOY_BIPOLAR,), AblationMetrics, measure_ablations),
)
