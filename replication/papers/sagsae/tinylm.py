"""The sagsae paper's tinylm tier: SA-GSAE(256) vs Gated(512) on three cells of the tiny LM's middle layer.

Same sweeps and ablations as the toy tier (:mod:`replication.papers.sagsae.sweeps`) on the cached activations of
the hooks named ``resid_mid``, ``mlp_out`` and ``attn_out`` in params.yaml; evaluation on 16,384 held-out rows
evenly spaced over the held-out cache. Settings and how they were chosen: ``NOTES.md``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from replication.claims import Tier
from replication.lm.cache import CachedActivations
from replication.papers.sagsae.analysis import AblationMetrics, SweepMetrics, ablation_metrics, sweep_metrics
from replication.papers.sagsae.sweeps import READINGS, Ablations, Sweeps, SweepSettings, run_ablations, run_sweeps
from replication.targets import Analysis, Measured, Target
from replication.tinylm import availability, sae_budget

N_EVAL = 16_384

TINYLM = SweepSettings(
    h=256,
    sagsae_lambdas=(0.1, 0.3, 1.0, 3.0),
    gated_lambdas=(1.0, 3.0, 10.0),
    operating_lambda=1.0,
    one_sided_lambdas=(1.0, 3.0, 10.0),
    train=tuple(dict(training_samples=256 * 1000, batch_size=256, lr=1e-3,
                     normalize_activations="expected_average_only_in").items()),
    budget=sae_budget,
)

_DESC = "tiny LM (4 layers, d_model 128, trained by the suite), middle layer's {cell}; SA-GSAE(256) vs Gated(512)"
CELLS = {
    "tinylm-sagsae-resid-mid": "resid_mid",
    "tinylm-sagsae-mlp-out": "mlp_out",
    "tinylm-sagsae-attn-out": "attn_out",
}
"""Target name -> the name of its hook in params.yaml ``tinylm.<profile>.activations.hooks`` (a middle layer's)."""
TARGETS = tuple(Target(name, Tier.TINYLM, _DESC.format(cell=f"hook_{field}"), seeds=(0, 1, 2),
                       availability=availability) for name, field in CELLS.items())
RESID_MID, MLP_OUT, ATTN_OUT = TARGETS


def hook_name(target: Target) -> str:
    """The cached hook of ``target``'s cell on the current profile (``blocks.1.hook_mlp_out``, ...)."""
    from replication.tinylm import tier_hook

    try:
        name = CELLS[target.name]
    except KeyError:
        raise KeyError(f"no sagsae tinylm cell for target {target.name!r}; known: {', '.join(CELLS)}") from None
    return tier_hook(name)


def cell_data(target: Target) -> CachedActivations:
    from replication.tinylm import cached_activations

    return cached_activations(hook_name(target))


def eval_tokens(data: CachedActivations) -> Tensor:
    """``N_EVAL`` held-out rows evenly spaced over the whole held-out cache (all of it if smaller)."""
    heldout = data.eval_batch()
    if len(heldout) <= N_EVAL:
        return heldout
    return heldout[torch.linspace(0, len(heldout) - 1, N_EVAL).round().long()]


def plumbing_only() -> bool:
    """Whether the current profile trains the SAEs for a fraction of their budget (``smoke``: a few dozen
    steps, plumbing, not science). Only then may two sweeps' L0 ranges be disjoint (their gap is then taken
    between the nearest points and the records say ``l0_ranges_disjoint = 1``); on the ``full`` profile a
    disjoint pair of sweeps makes the claims comparing them inconclusive, since no matched-L0 comparison
    exists."""
    spec = TINYLM.gated_spec(TINYLM.gated_lambdas[0])
    return spec.training_samples < dict(TINYLM.train)["training_samples"]


def sweeps(target: Target, seed: int) -> Sweeps:
    """Both sweeps of one cell and seed, with every per-latent array."""
    data = cell_data(target)
    return run_sweeps(TINYLM, data, seed, eval_tokens(data), allow_disjoint=plumbing_only())


def ablations(target: Target, seed: int) -> dict[str, Ablations]:
    data = cell_data(target)
    x = eval_tokens(data)
    return {r: run_ablations(TINYLM, data, seed, x, r, allow_disjoint=plumbing_only()) for r in READINGS}


def _seed(target: Target, seed: int | None) -> int:
    if seed is None:
        raise ValueError(f"{target.name} needs an integer seed (it seeds the SAEs' training)")
    return seed


def measure_sweeps(target: Target, seed: int | None) -> Measured:
    return Measured(sweep_metrics(TINYLM, sweeps(target, _seed(target, seed))))


def measure_ablations(target: Target, seed: int | None) -> Measured:
    return Measured(ablation_metrics(ablations(target, _seed(target, seed))))


ANALYSES = (
    Analysis("sagsae-tinylm", Tier.TINYLM, TARGETS, SweepMetrics, measure_sweeps),
    Analysis("sagsae-tinylm-ablations", Tier.TINYLM, TARGETS, AblationMetrics, measure_ablations),
)
