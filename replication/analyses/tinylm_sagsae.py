"""The sagsae analysis on the tinylm tier: SA-GSAE(H) vs Gated(2H) on the tiny LM's three sagsae cells.

Same measuring code as the toy tier (:func:`replication.analyses.sagsae.run_sweeps`, ``run_ablations``,
``sweep_metrics``, ``ablation_metrics``); only the data, the evaluation tokens and the settings are built
here. Cells (one target each; the paper's three mid-depth hookpoints, here of the 4-layer tiny LM,
``replication.tinylm``): a middle layer's ``hook_resid_mid``, ``hook_mlp_out`` and ``hook_attn_out``
(``blocks.1`` on the ``full`` profile, :func:`replication.tinylm.tier_hooks`).

Data: the cached train-split activations of the cell's hook (1M tokens, BOS positions excluded), drawn
uniformly with replacement (:class:`replication.tinylm.CachedActivations`). Evaluation: 16,384 rows of the
held-out cache (100k tokens), evenly spaced over it (``linspace`` indices; the cache is in stream order, so
the first rows alone would come from a handful of documents). "Dead" = never active, either sign, on these
16,384 tokens.

SAEs (sae-lens's ``SAETrainer`` through :func:`replication.training.train_toy_sae`, sae-lens's activation
normalisation ``expected_average_only_in``, folded into the weights after training, 1,000 steps of 256, lr
1e-3 as the toy and the other tinylm analyses, no resampling):

- widths: SA-GSAE at H = 256 (2 d_in) and Gated (``replication-gated``, frozen-decoder auxiliary loss) at
  2H = 512 (4 d_in); both readings of the SA-GSAE penalty and a JumpReLU(2H) reference as on the toy. Chosen by CPU cost
  within the tier's d_sae range 256-1024: at H = 512 / 2H = 1024 a step costs 11.6 / 15.6 ms of one CPU
  thread against 6.5 / 8.5 ms at 256 / 512, and the 3 cells x 3 seeds x 12 SAEs of this tier would take
  ~1.8x as long. At 1,000 steps on MLP-out, seed 0 (SA-GSAE lambda 0.1): H = 512 gave L0 88.7,
  R² 0.987, H = 256 L0 92.0, R² 0.989, no dead latents either way.
- steps: 1,000 (the low end of the tier's 1-3k). Not converged in L0: SA-GSAE(512) at lambda 0.1 on MLP-out
  had L0 131.6 / 88.7 / 82.4 and R² 0.970 / 0.987 / 0.992 at 500 / 1,000 / 2,000 steps, Gated(1024) at
  lambda 1 L0 125.2 / 86.7 / 64.8 and R² 0.941 / 0.941 / 0.938: both move towards lower L0 at equal or
  better R², so the comparison is of equal, short budgets (as on the toy).
- lambdas, chosen on seed 0 of the MLP-out cell (and checked on the other two cells' extremes) so that the
  two sweeps' L0 ranges overlap inside L0 ~ 5-100 (d_in 128): tried at 1,000 steps, SA-GSAE lambda 0.1 /
  0.3 / 1 / 3 -> L0 92.0 / 57.0 / 37.5 / 30.6 (R² 0.989 / 0.955 / 0.907 / 0.882), Gated lambda 1 / 3 / 10 /
  30 -> L0 59.7 / 22.9 / 5.5 / 0.19 (R² 0.927 / 0.858 / 0.702 / 0.034; 43% dead at 30); resid-mid: SA-GSAE
  0.3 / 3 -> L0 58.6 / 32.2, Gated 1 / 10 -> 72.7 / 5.1; attn-out: SA-GSAE 0.3 / 3 -> 34.1 / 23.9. Kept:
  SA-GSAE {0.1, 0.3, 1, 3} (four points, as the toy), Gated {1, 3, 10} (three, for the CPU budget; 30
  collapses).
- ablations on every cell, as the toy's: no auxiliary loss and untied radii at the operating point
  lambda = 1 (a middle point of the SA-GSAE sweep; L0 37.5 on MLP-out, seed 0), and the one-sided gate over
  its own lambdas {1, 3, 10}: at a given lambda its L0 is much higher than the two-sided gate's (resid-mid,
  seed 0: one-sided 0.3 / 1 / 3 / 10 / 30 -> L0 123 / - / 64.8 / 56.9 / 63.0, two-sided 0.3 / 3 -> 57.9 /
  32.5), so over the two-sided lambdas the two sweeps did not overlap; {1, 3, 10} overlaps the two-sided
  sweep's upper L0 range (its lambda 0.1 point was added for that), where they are compared.

The lambdas above were chosen with sae-lens's live-decoder auxiliary losses; with the frozen decoders both
architectures train codes denser than d_in at every lambda (the claims are then inconclusive). The whole tier is
261 SAEs (3 cells x 3 seeds x 29); cold, ~21 min of single-thread CPU for two of the cells, the third beside it.
The smoke profile trains each for ``tinylm.smoke.saes.budget_fraction`` of
the budget (:func:`replication.tinylm.sae_budget`): plumbing, not science.
"""

from __future__ import annotations

import torch
from torch import Tensor

from replication.analyses.sagsae import (
    ABLATION_METRICS,
    READINGS,
    SWEEP_METRICS,
    Ablations,
    Sweeps,
    SweepSettings,
    ablation_metrics,
    run_ablations,
    run_sweeps,
    sweep_metrics,
)
from replication.claims import Tier
from replication.targets import ANALYSES, Analysis, Target
from replication.tinylm import availability, sae_budget
from replication.training import ToySAESpec
from replication.verdict import Status

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
"""Target name -> field of :class:`replication.tinylm.TierHooks` (the hook of the profile's middle layer)."""
TARGETS = tuple(Target(name, Tier.TINYLM, _DESC.format(cell=f"hook_{field}"), seeds=(0, 1, 2),
                       availability=availability) for name, field in CELLS.items())
RESID_MID, MLP_OUT, ATTN_OUT = TARGETS


def hook_name(target: Target) -> str:
    """The cached hook of ``target``'s cell on the current profile (``blocks.1.hook_mlp_out``, ...)."""
    from replication.tinylm import tier_hooks

    try:
        field = CELLS[target.name]
    except KeyError:
        raise KeyError(f"no sagsae tinylm cell for target {target.name!r}; known: {', '.join(CELLS)}") from None
    return getattr(tier_hooks(), field)


def cell_data(target: Target):  # -> replication.tinylm.CachedActivations
    from replication.tinylm import CachedActivations

    return CachedActivations.open(hook_name(target))


def eval_tokens(data) -> Tensor:  # data: CachedActivations
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


def measure_sweeps(target: Target, seed: int | None) -> dict[str, float]:
    return sweep_metrics(TINYLM, sweeps(target, _seed(target, seed)))


def measure_ablations(target: Target, seed: int | None) -> dict[str, float]:
    return ablation_metrics(ablations(target, _seed(target, seed)))


ANALYSES.register(Analysis(name="sagsae-tinylm", tier=Tier.TINYLM, targets=TARGETS, provides=SWEEP_METRICS,
                           run=measure_sweeps))
ANALYSES.register(Analysis(name="sagsae-tinylm-ablations", tier=Tier.TINYLM, targets=TARGETS,
                           provides=ABLATION_METRICS, run=measure_ablations))

# ---------------------------------------------------------------------------------------- expectations
# In words (the numbers are in the test output and the report); the settings were chosen by R², L0 range,
# dead fraction and CPU cost, never toward these thresholds.
_DENSE = ("with the auxiliary losses through a frozen decoder (Rajamanoharan et al.'s Gated SAE, and the SA-GSAE "
          "likewise) both architectures train to codes denser than the 128-dimensional input at every lambda of "
          "the grids, so there is no sparse regime to compare (the grids were set with sae-lens's live-decoder "
          "auxiliary loss)")
for _target in (RESID_MID, MLP_OUT, ATTN_OUT):
    for _claim in ("sagsae.half_width_dominates", "sagsae.matches_elsewhere", "sagsae.fewer_dead",
                   "sagsae.tied_radii_equivalent", "sagsae.two_sided_gate_load_bearing", "sagsae.bipolar_share"):
        ANALYSES.expect(_claim, _target.name, Status.INCONCLUSIVE, _DENSE)
    ANALYSES.expect(
        "sagsae.aux_loss_load_bearing", _target.name, Status.NOT_REPLICATED,
        "no collapse without the auxiliary loss (R² is worse, at a lower L0, but no latent dies): as on the toy, "
        "the L0 penalty gives the thresholds a straight-through reconstruction gradient, so the gates do not "
        "collapse")
