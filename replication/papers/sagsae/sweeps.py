"""The SAE sweeps and ablations of the sagsae claims, shared by every tier (toy data or cached LM activations).

:func:`run_sweeps` trains (cached) SA-GSAE(H) under each reading of its sparsity penalty, Gated(2H) and
JumpReLU(2H) over a tier's :class:`SweepSettings` and evaluates each on held-out tokens; :func:`run_ablations`
trains the paper's ablations. Nothing here knows which tier it serves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from jaxtyping import Float
from torch import Tensor

from replication.metrics import DeadWindow, ParetoComparison, dead_fraction, matched_l0_gap
from replication.metrics.sagsae import bipolar_share, minority_sign_share, sign_fire_counts
from replication.saes.gated import GATED_FROZEN_AUX
from replication.saes.sagsae import SAGSAE
from replication.sweeps import evaluation
from replication.training import SAESpec, TrainingData, train_sae

MIN_MINORITY_SHARE = 0.1
#: the readings of the SA-GSAE's sparsity penalty (``claims.sagsae.PENALTY_READINGS``) -> its ``sparsity_loss``
L0_GATE, L1_GATE = "l0-gate", "l1-gate"
PENALTY = {L0_GATE: "l0", L1_GATE: "l1"}
READINGS = (L0_GATE, L1_GATE)
OPERATING_L1 = 1.0
"""The l1-gate reading's ablation lambda: the middle of the Gated grid on every tier, as the l0-gate's."""


@dataclass(frozen=True)
class SweepSettings:
    """What a tier's sweeps and ablations depend on besides the data: widths, lambdas, training budget."""

    h: int
    """Width of the SA-GSAE; the Gated baseline has ``2 h``."""
    sagsae_lambdas: tuple[float, ...]
    """SA-GSAE sparsity coefficients (its two-sided gate's L0 penalty); also the one-sided ablation's by default."""
    gated_lambdas: tuple[float, ...]
    """Gated(2H) L1 coefficients (also the SA-GSAE's l1-gate sweep)."""
    operating_lambda: float
    """The SA-GSAE sweep point of the no-aux and untied ablations and of the bipolar share."""
    train: tuple[tuple[str, Any], ...]
    """Keyword arguments of :meth:`SAESpec.make` shared by every SAE of the tier (budget, lr, and e.g.
    sae-lens's ``normalize_activations``)."""
    one_sided_lambdas: tuple[float, ...] | None = None
    """Lambdas of the one-sided ablation's sweep (``None``: the SA-GSAE sweep's); compared with the
    two-sided sweep over their L0 overlap, so they need only make the two L0 ranges overlap."""
    budget: Callable[[SAESpec], SAESpec] | None = None
    """Applied to every spec before training (the tinylm tier's profile budget,
    :func:`replication.tinylm.sae_budget`); ``None``: the spec as made."""

    def __post_init__(self) -> None:
        if self.operating_lambda not in self.sagsae_lambdas:
            raise ValueError(f"operating_lambda {self.operating_lambda} is not a point of the SA-GSAE sweep "
                             f"{self.sagsae_lambdas}")
        if OPERATING_L1 not in self.gated_lambdas:
            raise ValueError(f"the l1-gate reading's operating lambda {OPERATING_L1} is not a point of the Gated "
                             f"sweep {self.gated_lambdas} (the l1-gate reading sweeps the Gated lambdas)")
        if min(len(self.sagsae_lambdas), len(self.gated_lambdas), len(self.one_sided_sweep(L0_GATE))) < 2:
            raise ValueError("each sweep needs at least two lambdas (a matched-L0 comparison interpolates)")

    def lambdas(self, reading: str) -> tuple[float, ...]:
        """The SA-GSAE sweep of a reading of the sparsity penalty: its own grid for the L0 of the gate, the
        Gated SAE's grid for the Gated SAE's L1 (the same penalty, so the same coefficients)."""
        return self.sagsae_lambdas if reading == L0_GATE else self.gated_lambdas

    def operating(self, reading: str) -> float:
        """The ablations' lambda of a reading (l1-gate: :data:`OPERATING_L1`, fixed before any run)."""
        return self.operating_lambda if reading == L0_GATE else OPERATING_L1

    def one_sided_sweep(self, reading: str) -> tuple[float, ...]:
        if reading == L0_GATE and self.one_sided_lambdas is not None:
            return self.one_sided_lambdas
        return self.lambdas(reading)

    def _budgeted(self, spec: SAESpec) -> SAESpec:
        return spec if self.budget is None else self.budget(spec)

    def sagsae_spec(self, lam: float, reading: str = L0_GATE, **options: object) -> SAESpec:
        """SA-GSAE(H) at ``lam`` under a reading of the penalty (``options``: the ablations' ``use_aux_loss``,
        ``tied_radii``, ``two_sided``)."""
        if reading not in PENALTY:
            raise ValueError(f"unknown sparsity-penalty reading {reading!r}; known: {', '.join(PENALTY)}")
        return self._budgeted(SAESpec.make(SAGSAE, self.h, sparsity_coefficient=lam,
                                              sparsity_loss=PENALTY[reading], **options, **dict(self.train)))

    def gated_spec(self, lam: float) -> SAESpec:
        """Gated(2H) at L1 coefficient ``lam``: sae-lens's Gated SAE with Rajamanoharan et al.'s frozen-decoder
        auxiliary loss (``replication-gated``)."""
        return self._budgeted(SAESpec.make(GATED_FROZEN_AUX, 2 * self.h, l1_coefficient=lam,
                                              **dict(self.train)))

    def jumprelu_spec(self, lam: float) -> SAESpec:
        """sae-lens JumpReLU at 2H and L0 coefficient ``lam`` (the SA-GSAE l0-gate grid): reported beside
        Gated(2H), to tell the effect of the penalty from the effect of sign-awareness."""
        return self._budgeted(SAESpec.make("jumprelu", 2 * self.h, l0_coefficient=lam, **dict(self.train)))


class SignedPoint(NamedTuple):
    """One trained SA-GSAE / Gated / JumpReLU SAE on the held-out tokens: a sweep point with its sign statistics."""

    coefficient: float
    """Its sparsity coefficient lambda."""
    d_sae: int
    l0: float
    """Mean L0 (active latents per token, either sign)."""
    r2: float
    """Explained variance ``1 - FVU_pooled`` (replication.metrics.explained_variance)."""
    dead_fraction: float
    """Fraction of latents never active (either sign) on the evaluated tokens."""
    bipolar_share: float
    """Fraction of live latents whose minority sign is >= 0.1 of their firings (NaN if none is live)."""
    n_parameters: int
    """``sum(p.numel())`` of the trained SAE."""
    density: Float[Tensor, " d_sae"]
    """Per-latent firing frequency."""
    minority_share: Float[Tensor, " d_sae"]
    """Per-latent ``min(c+, c-) / (c+ + c-)`` (NaN for dead latents)."""


def evaluate(spec: SAESpec, data: TrainingData, seed: int, x: Tensor, dead_window: DeadWindow | None = None) -> SignedPoint:
    """Train (or load) ``spec`` on ``data`` with ``seed`` and evaluate it on the tokens ``x``
    (:func:`replication.sweeps.evaluation`; dead: on ``dead_window``'s tokens if given)."""
    sae = train_sae(spec, data, seed).sae
    e = evaluation(sae, x, dead_window)
    counts = sign_fire_counts(e.codes)
    live = bool((e.density > 0).any())
    opts = dict(spec.options)
    return SignedPoint(
        coefficient=float(next(opts[k] for k in ("sparsity_coefficient", "l1_coefficient", "l0_coefficient")
                               if k in opts)),
        d_sae=spec.d_sae,
        l0=e.l0,
        r2=e.explained_variance,
        dead_fraction=float(dead_fraction(e.density)),
        bipolar_share=float(bipolar_share(counts, MIN_MINORITY_SHARE)) if live else float("nan"),
        n_parameters=sum(p.numel() for p in sae.parameters()),
        density=e.density,
        minority_share=minority_sign_share(counts),
    )


def compare(a: tuple[SignedPoint, ...], b: tuple[SignedPoint, ...], allow_disjoint: bool = False) -> ParetoComparison | None:
    """R²(a) - R²(b) at matched L0 (:func:`replication.metrics.matched_l0_gap`): ``None`` where the L0 ranges do
    not overlap (the claims that compare them are then inconclusive: precondition ``l0_ranges_overlap``); only
    with ``allow_disjoint`` (the tinylm smoke profile: plumbing) the nearest points' gap instead."""
    return matched_l0_gap([p.l0 for p in a], [p.r2 for p in a], [p.l0 for p in b], [p.r2 for p in b], allow_disjoint)


class Sweeps(NamedTuple):
    """Every sweep of one (data, seed): SA-GSAE(H) under each penalty reading, Gated(2H), JumpReLU(2H)."""

    sagsae: dict[str, tuple[SignedPoint, ...]]
    """Reading -> SA-GSAE(H) at each lambda of ``SweepSettings.lambdas(reading)``."""
    gated: tuple[SignedPoint, ...]
    """Gated(2H) (frozen-decoder auxiliary loss) at each lambda of ``SweepSettings.gated_lambdas``."""
    jumprelu: tuple[SignedPoint, ...]
    """sae-lens JumpReLU(2H) over the l0-gate grid (reported, not a claim)."""
    pareto: dict[str, ParetoComparison | None]
    """Reading -> R²(SA-GSAE) - R²(Gated) over the L0 overlap (``None``: the L0 ranges do not overlap)."""
    n_eval: int = 0
    """Evaluation tokens: the window of "dead" (never active on them), reported beside ``fewer_dead``."""
    d_in: int = 1
    """The SAEs' input dimension (a code denser than it is not sparse)."""


def run_sweeps(settings: SweepSettings, data: TrainingData, seed: int, x: Tensor, allow_disjoint: bool = False,
               dead_window: DeadWindow | None = None, dead_window_tokens: int | None = None) -> Sweeps:
    """Every sweep on ``data`` (training seed ``seed``), evaluated on ``x``, with every per-latent array.

    ``allow_disjoint``: see :func:`compare` (plumbing runs only); ``dead_window`` (and its size): where
    "dead" is measured if not on ``x`` (:data:`replication.metrics.DeadWindow`)."""
    def ev(spec: SAESpec) -> SignedPoint:
        return evaluate(spec, data, seed, x, dead_window)

    sag = {r: tuple(ev(settings.sagsae_spec(lam, r)) for lam in settings.lambdas(r)) for r in READINGS}
    gat = tuple(ev(settings.gated_spec(lam)) for lam in settings.gated_lambdas)
    jump = tuple(ev(settings.jumprelu_spec(lam)) for lam in settings.sagsae_lambdas)
    window = len(x) if dead_window is None else dead_window_tokens
    if window is None:
        raise ValueError("a dead_window needs its dead_window_tokens (the report prints the window's size)")
    return Sweeps(sag, gat, jump, {r: compare(sag[r], gat, allow_disjoint) for r in READINGS}, window,
                  x.shape[1])


class Ablations(NamedTuple):
    """The paper's ablations of SA-GSAE(H) under one reading of the penalty."""

    full: SignedPoint
    """SA-GSAE at the operating lambda (tied radii, auxiliary loss, two-sided gate)."""
    no_aux: SignedPoint
    two_sided: tuple[SignedPoint, ...]
    """The SA-GSAE sweep (tied radii, two-sided), which the one-sided and untied sweeps are compared with."""
    one_sided: tuple[SignedPoint, ...]
    untied: tuple[SignedPoint, ...]
    """Untied radii over the same lambdas as ``two_sided``."""
    one_sided_vs_two_sided: ParetoComparison | None
    """R²(one-sided) - R²(two-sided) over the L0 overlap (``None``: no overlap)."""
    tied_vs_untied: ParetoComparison | None
    """R²(tied) - R²(untied) over the L0 overlap (``None``: no overlap)."""
    d_in: int = 1


def run_ablations(settings: SweepSettings, data: TrainingData, seed: int, x: Tensor, reading: str = L0_GATE,
                  allow_disjoint: bool = False) -> Ablations:
    """The paper's ablations of SA-GSAE(H) on ``data`` under one reading of the penalty: no auxiliary loss at
    the operating lambda (a collapsed SAE has no L0 to match), and the one-sided gate and the untied radii
    over sweeps, each compared with the two-sided tied sweep at matched L0."""
    lam = settings.operating(reading)
    full = evaluate(settings.sagsae_spec(lam, reading), data, seed, x)
    no_aux = evaluate(settings.sagsae_spec(lam, reading, use_aux_loss=False), data, seed, x)
    two = tuple(evaluate(settings.sagsae_spec(v, reading), data, seed, x) for v in settings.lambdas(reading))
    one = tuple(evaluate(settings.sagsae_spec(v, reading, two_sided=False), data, seed, x)
                for v in settings.one_sided_sweep(reading))
    untied = tuple(evaluate(settings.sagsae_spec(v, reading, tied_radii=False), data, seed, x)
                   for v in settings.lambdas(reading))
    return Ablations(full, no_aux, two, one, untied, compare(one, two, allow_disjoint),
                     compare(two, untied, allow_disjoint), x.shape[1])
