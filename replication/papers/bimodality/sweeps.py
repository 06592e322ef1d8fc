"""The SAE sweeps of the bimodality claims, shared by every tier that trains its own SAEs.

:func:`sweep_arrays` trains (cached) every SAE of a :class:`SweepSettings` on any training data and measures
them on evaluation tokens: standard and aligned ReLU sweeps (:func:`relu_sweep`), standard and aligned TopK,
the reference standard SAE with its snapshots and a larger dictionary for MCS, and short aligned runs
observed at every step. :func:`sweep_measure` / :func:`sweep_report_arrays` derive the claims' metrics and the
figures' arrays from it; :func:`ce_recovered_metrics` adds CE loss recovered where an LM can be run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from jaxtyping import Float
from torch import Tensor

from replication.lm.splice import SplicedLosses
from replication.metrics import DeadWindow, SweepPoint, activation_density, l0_ranges_disjoint, matched_l0_gap
from replication.metrics.bimodality import alignment_scores, dip_test, sarle_bimodality_coefficient
from replication.papers.bimodality.analysis import AlignmentArrays, alignment_arrays, alignment_metrics, histogram_arrays
from replication.saes.aligned import ALIGNED_STANDARD, ALIGNED_TOPK
from replication.sweeps import evaluate
from replication.training import SAESpec, fit, train_sae

N_CHECKPOINTS = 4
EXACT_STEPS = 200
"""Length of the short aligned runs whose every step is checked for ``aligned_exact``."""


@dataclass(frozen=True)
class SweepSettings:
    """How one tier trains the SAEs of the bimodality claims (every tier runs :func:`sweep_arrays` on these).

    Every SAE shares ``train`` (``SAESpec.make`` keywords: budget, lr, and e.g. sae-lens's
    ``normalize_activations``); the ReLU SAEs add ``l1_warm_up_steps``. The reference standard SAE is the
    ReLU sweep point whose L0 is nearest ``reference_l0``. ``budget``, if given, maps every spec before
    training (the tinylm tier's smoke profile shortens training with it: plumbing, not science).
    """

    d_sae: int
    d_sae_larger: int
    """Width of dictionary B of ``mcs_correlation`` (a standard SAE at the reference's lambda)."""
    l1_standard: tuple[float, ...]
    l1_aligned: tuple[float, ...]
    topk_ks: tuple[int, ...]
    train: tuple[tuple[str, Any], ...]
    l1_warm_up_steps: int
    reference_l0: float
    n_checkpoints: int = N_CHECKPOINTS
    """Snapshots kept by every standard ReLU SAE (``emerges_in_training``)."""
    exact_steps: int = EXACT_STEPS
    budget: Callable[[SAESpec], SAESpec] | None = None

    def _final(self, spec: SAESpec) -> SAESpec:
        return spec if self.budget is None else self.budget(spec)

    def standard_spec(self, l1: float, d_sae: int | None = None, n_checkpoints: int | None = None) -> SAESpec:
        return self._final(SAESpec.make(
            "standard", self.d_sae if d_sae is None else d_sae, l1_coefficient=l1,
            l1_warm_up_steps=self.l1_warm_up_steps,
            n_checkpoints=self.n_checkpoints if n_checkpoints is None else n_checkpoints, **dict(self.train)))

    def aligned_spec(self, l1: float, compress: bool = False) -> SAESpec:
        return self._final(SAESpec.make(ALIGNED_STANDARD, self.d_sae, l1_coefficient=l1,
                                           l1_warm_up_steps=self.l1_warm_up_steps, compress_last_column=compress,
                                           **dict(self.train)))

    @property
    def steps(self) -> int:
        return int(dict(self.train)["training_samples"]) // self.batch_size

    @property
    def dead_feature_window(self) -> int:
        """Steps without firing after which sae-lens's TopK counts a latent dead for its AuxK revival: a
        quarter of the run (sae-lens's default of 1,000 steps never fires in an 800-1,000-step run)."""
        return max(1, self.steps // 4)

    def topk_spec(self, k: int, aligned: bool) -> SAESpec:
        return self._final(SAESpec.make(ALIGNED_TOPK if aligned else "topk", self.d_sae, k=k,
                                           trainer_options=(("dead_feature_window", self.dead_feature_window),),
                                           **dict(self.train)))

    def exact_specs(self, l1: float) -> tuple[SAESpec, ...]:
        """Short runs of both aligned architectures (ReLU at ``l1``; TopK at the largest k, compressed)."""
        short = {**dict(self.train), "training_samples": self.batch_size * self.exact_steps}
        return (self._final(SAESpec.make(ALIGNED_STANDARD, self.d_sae, l1_coefficient=l1, **short)),
                self._final(SAESpec.make(ALIGNED_TOPK, self.d_sae, k=max(self.topk_ks), compress_last_column=True,
                                            **short)))

    @property
    def plumbing_only(self) -> bool:
        """Whether ``budget`` shortens training (then sweeps may miss each other: see :func:`sweep_metrics`)."""
        return self.standard_spec(self.l1_standard[0]).training_samples < int(dict(self.train)["training_samples"])

    @property
    def batch_size(self) -> int:
        return int(dict(self.train)["batch_size"])


def matched_l0_gaps(a: list[tuple[float, float]], b: list[tuple[float, float]],
                    allow_disjoint: bool = False) -> tuple[float, float, bool]:
    """``(min, max, disjoint)`` of ``y_a - y_b`` at matched L0 between two sweeps of ``(L0, y)`` points, by
    :func:`replication.metrics.matched_l0_gap` (collapsed points dropped). Sweeps whose L0 ranges do not
    overlap raise, naming them; only with ``allow_disjoint`` (plumbing runs, :attr:`SweepSettings.plumbing_only`)
    is the nearest points' gap taken instead (NaN if a sweep has no live point) and ``disjoint`` says so."""
    disjoint = l0_ranges_disjoint([x for x, _ in a], [x for x, _ in b])
    cmp = matched_l0_gap([x for x, _ in a], [y for _, y in a], [x for x, _ in b], [y for _, y in b], allow_disjoint)
    if cmp is None:
        if allow_disjoint:
            return math.nan, math.nan, True
        raise ValueError(f"the sweeps' L0 ranges do not overlap: A {sorted(x for x, _ in a)}, B "
                         f"{sorted(x for x, _ in b)}; extend the sweeps")
    return float(cmp.min_gap), float(cmp.max_gap), disjoint


def sweep_metrics(aligned: list[SweepPoint], standard: list[SweepPoint],
                  allow_disjoint: bool = False) -> dict[str, float]:
    """``aligned_pareto`` and ``aligned_no_dead`` metrics from two ReLU sweeps.

    Explained variance and dead fraction are compared at matched L0 by :func:`matched_l0_gaps`
    (``compare_sweeps``: log-L0 interpolation over the overlap, collapsed points dropped):
    ``ev_gap_min_over_l0_overlap`` is the worst aligned - standard EV gap;
    ``aligned_minus_standard_dead_fraction`` the *largest* aligned - standard dead-fraction gap (the
    claim needs it below 0 everywhere); ``aligned_dead_fraction`` the largest dead fraction of any aligned
    sweep point. With ``allow_disjoint`` (plumbing runs only) the result also has ``l0_ranges_disjoint``.
    """
    def pts(points: list[SweepPoint], field: str) -> list[tuple[float, float]]:
        return [(p.l0, getattr(p, field)) for p in points]

    ev_min, _, disjoint = matched_l0_gaps(pts(aligned, "explained_variance"), pts(standard, "explained_variance"),
                                          allow_disjoint)
    _, dead_max, _ = matched_l0_gaps(pts(aligned, "dead_fraction"), pts(standard, "dead_fraction"), allow_disjoint)
    out = {"ev_gap_min_over_l0_overlap": ev_min, "aligned_minus_standard_dead_fraction": dead_max,
           "aligned_dead_fraction": max(p.dead_fraction for p in aligned)}
    if allow_disjoint:
        out["l0_ranges_disjoint"] = float(disjoint)
    return out



def point_metrics(points: tuple[SweepPoint, ...] | list[SweepPoint]) -> dict[str, float]:
    """``{method}_{setting:g}_{l0,explained_variance,dead_fraction}`` of every sweep point (the report's curves)."""
    out: dict[str, float] = {}
    for p in points:
        tag = f"{p.method}_{p.setting:g}"
        out.update({f"{tag}_l0": p.l0, f"{tag}_explained_variance": p.explained_variance,
                    f"{tag}_dead_fraction": p.dead_fraction})
    return out


def relu_sweep_metrics(points: tuple[SweepPoint, ...], allow_disjoint: bool = False) -> dict[str, float]:
    """:func:`sweep_metrics` of the aligned vs standard points of a ReLU sweep, and every point's scalars."""
    out = sweep_metrics([p for p in points if p.method == "aligned"], [p for p in points if p.method == "standard"],
                        allow_disjoint)
    out.update(point_metrics(points))
    return out


def ce_recovered_metrics(losses: SplicedLosses, points: tuple[SweepPoint, ...],
                         allow_disjoint: bool = False) -> dict[str, float]:
    """CE loss recovered (App. B) of every spliced ReLU sweep point (``losses.h_star`` keyed ``(method,
    lambda)``) and its worst aligned - standard gap at matched L0 (:func:`matched_l0_gaps`): recorded beside
    ``aligned_pareto``, not a condition of it."""
    out = {"h_orig": losses.h_orig, "h_zero_ablation": losses.h_zero}
    ce = {key: losses.recovered(key) for key in losses.h_star}
    for (method, lam), value in ce.items():
        out[f"{method}_{lam:g}_ce_loss_recovered"] = value
    l0 = {(p.method, p.setting): p.l0 for p in points}

    def pts(method: str) -> list[tuple[float, float]]:
        return [(l0[k], ce[k]) for k in ce if k[0] == method]

    out["ce_recovered_gap_min_over_l0_overlap"] = matched_l0_gaps(pts("aligned"), pts("standard"), allow_disjoint)[0]
    return out


def max_alignment_deviation_during_training(spec: SAESpec, data: Any, seed: int) -> float:
    """max over every step (init included) and latent of |a_i - 1| for a short run of an aligned spec."""
    worst = [0.0]

    def observe(sae: Any, step: int) -> None:  # noqa: ARG001
        with torch.no_grad():
            a = alignment_scores(sae.W_enc.detach(), sae.W_dec.detach())
        worst[0] = max(worst[0], float((a - 1.0).abs().max()))

    fit(spec, data, seed, on_step=observe)
    return worst[0]


class SweepArrays(NamedTuple):
    """Everything :func:`sweep_arrays` measures for one (data, seed): the arrays behind every tier's metrics."""

    reference_l1: float
    """lambda of the reference standard SAE (the ReLU sweep point whose L0 is nearest ``reference_l0``)."""
    reference: AlignmentArrays
    """The reference standard SAE, with MCS against a standard SAE of width ``d_sae_larger`` at its lambda."""
    checkpoint_bc: tuple[float, ...]
    """Sarle's BC of a at each saved snapshot, then at the end."""
    checkpoint_dip_p: tuple[float, ...]
    relu_sweep: tuple[SweepPoint, ...]
    topk_sweep: tuple[SweepPoint, ...]
    exact_deviation: float
    """max |a_i - 1| over every step of the short aligned runs (``aligned_exact``)."""
    aligned_l1: float
    """lambda of the aligned ReLU SAE matched to the reference (the aligned sweep point nearest its L0)."""
    aligned_alignment: Float[Tensor, " d_sae"]
    """That aligned SAE's alignment scores (1 by construction, §5)."""
    aligned_density: Float[Tensor, " d_sae"]
    """That aligned SAE's firing frequency on the evaluation tokens (0: dead)."""
    checkpoint_alignment: tuple[Tensor, ...]
    """a of the reference standard SAE at each saved snapshot, then at the end (as ``checkpoint_bc``)."""
    checkpoint_steps: tuple[int, ...]
    """Training step of each entry of ``checkpoint_alignment`` (the last is the end of training)."""


def _snapshot_steps(trained: Any) -> tuple[int, ...]:
    """The training step of each saved snapshot of a cached SAE (``step.json`` written by ``fit``)."""
    return tuple(int(json.loads((trained.path / "checkpoints" / str(i) / "step.json").read_text())["step"])
                 for i in range(len(trained.checkpoints)))


class ReluSweep(NamedTuple):
    """The standard and aligned ReLU sweeps of one (data, seed), with the reference SAE and its MCS."""

    reference_l1: float
    """lambda of the reference standard SAE (the standard sweep point whose L0 is nearest ``reference_l0``)."""
    reference: Any
    """The reference's :class:`replication.training.TrainedSAE` (its snapshots too)."""
    reference_arrays: AlignmentArrays
    """The reference's alignment arrays, with MCS against a standard SAE of width ``d_sae_larger``."""
    points: tuple[SweepPoint, ...]
    """Every standard point, then every aligned point."""
    standard: dict[float, Any]
    """lambda -> trained standard SAE."""
    aligned: dict[float, Any]
    """lambda -> trained aligned SAE."""


def independent_seed(seed: int) -> int:
    """The seed of the larger dictionary B of ``mcs_correlation``: never one that trains a dictionary A."""
    return 1_000_000 + seed


def relu_sweep(settings: SweepSettings, data: Any, x: Float[Tensor, "tokens d_in"], seed: int,
               dead_window: DeadWindow | None = None) -> ReluSweep:
    """Train (or load) both ReLU sweeps of ``settings`` on ``data`` (a ``TrainingData``) with ``seed``, the
    reference standard SAE's larger dictionary, and measure them on the evaluation tokens ``x``: what every
    tier that trains SAEs shares (the real tier stops here; :func:`sweep_arrays` adds TopK, snapshots and
    the per-step check). ``dead_window``: where "dead" is measured if not on ``x``
    (:data:`replication.metrics.DeadWindow`)."""
    standard = {lam: train_sae(settings.standard_spec(lam), data, seed) for lam in settings.l1_standard}
    relu = [evaluate(t.sae, x, "standard", lam, dead_window) for lam, t in standard.items()]
    ref_l1 = min(relu, key=lambda p: abs(math.log(max(p.l0, 1e-3) / settings.reference_l0))).setting
    ref = standard[ref_l1]
    # dictionary B: trained independently of A (its own seed, so its own init and data order), as §4.2 compares
    # two separately trained dictionaries
    larger = train_sae(settings.standard_spec(ref_l1, d_sae=settings.d_sae_larger, n_checkpoints=0),
                           data, independent_seed(seed)).sae
    reference = alignment_arrays(ref.sae, x, larger, dead_window)
    aligned_saes = {lam: train_sae(settings.aligned_spec(lam), data, seed).sae for lam in settings.l1_aligned}
    relu += [evaluate(sae, x, "aligned", lam, dead_window) for lam, sae in aligned_saes.items()]
    return ReluSweep(ref_l1, ref, reference, tuple(relu), {lam: t.sae for lam, t in standard.items()},
                     aligned_saes)


def sweep_arrays(settings: SweepSettings, data: Any, x: Float[Tensor, "tokens d_in"], seed: int) -> SweepArrays:
    """Train (or load) every SAE of ``settings`` on ``data`` (a ``TrainingData``) with ``seed`` and measure them
    on the evaluation tokens ``x``: the data-agnostic core that the toy and tinylm tiers share.

    Standard and aligned ReLU sweeps (:func:`relu_sweep`), standard and aligned TopK at each k, the
    reference standard SAE (nearest ``settings.reference_l0``) with its snapshots and a larger dictionary
    for MCS, the aligned SAE matched to the reference's L0, and the short aligned runs observed at every step.
    """
    rs = relu_sweep(settings, data, x, seed)
    ref_l1, ref, reference, relu, aligned_saes = (rs.reference_l1, rs.reference, rs.reference_arrays,
                                                  list(rs.points), rs.aligned)
    traj = [alignment_scores(c.W_enc.detach(), c.W_dec.detach()) for c in ref.checkpoints] + [reference.alignment]
    topk = [evaluate(train_sae(settings.topk_spec(k, al), data, seed).sae, x,
                     "aligned-topk" if al else "topk", k)
            for al in (False, True) for k in settings.topk_ks]

    exact = max(max_alignment_deviation_during_training(s, data, seed) for s in settings.exact_specs(ref_l1))
    # the aligned SAE matched to the reference: the aligned sweep point whose L0 is nearest the reference's
    ref_l0 = next(p.l0 for p in relu if p.method == "standard" and p.setting == ref_l1)
    al_l1 = min((p for p in relu if p.method == "aligned"),
                key=lambda p: abs(math.log(max(p.l0, 1e-3) / max(ref_l0, 1e-3)))).setting
    with torch.no_grad():
        al_sae = aligned_saes[al_l1]
        al_density = activation_density(al_sae.encode(x))
        al_a = alignment_scores(al_sae.W_enc.detach(), al_sae.W_dec.detach())
    steps = _snapshot_steps(ref) + (settings.standard_spec(ref_l1).training_samples // settings.batch_size,)
    return SweepArrays(ref_l1, reference, tuple(float(sarle_bimodality_coefficient(a)) for a in traj),
                       tuple(float(dip_test(a).p_value) for a in traj), tuple(relu), tuple(topk), exact,
                       al_l1, al_a, al_density, tuple(traj), steps)


def sweep_measure(arr: SweepArrays, allow_disjoint: bool = False) -> dict[str, float]:
    """Every metric of :data:`SWEEP_PROVIDES` (and per-sweep-point scalars for the report) from
    :class:`SweepArrays`.

    ``topk_gain_smallest_minus_largest_k``: gain(k) = EV(aligned TopK, k) - EV(TopK, k), at the smallest minus
    the largest k of the TopK sweep; ``topk_dead_aligned_minus_standard_at_smallest_k``: aligned TopK's dead
    fraction minus TopK's at the smallest k. Per point: ``{method}_{setting:g}_{l0,explained_variance,dead_fraction}``.
    ``allow_disjoint``: see :func:`sweep_metrics` (plumbing runs only).
    """
    out = alignment_metrics(arr.reference)
    out["max_abs_alignment_minus_one_during_training"] = arr.exact_deviation
    out.update(relu_sweep_metrics(arr.relu_sweep, allow_disjoint))
    ev = {(p.method, int(p.setting)): p.explained_variance for p in arr.topk_sweep}
    dead = {(p.method, int(p.setting)): p.dead_fraction for p in arr.topk_sweep}
    ks = sorted({int(p.setting) for p in arr.topk_sweep})
    gain = {k: ev[("aligned-topk", k)] - ev[("topk", k)] for k in ks}
    out["topk_gain_smallest_minus_largest_k"] = gain[min(ks)] - gain[max(ks)]
    out["topk_dead_aligned_minus_standard_at_smallest_k"] = (dead[("aligned-topk", min(ks))]
                                                             - dead[("topk", min(ks))])
    out["topk_dead_fraction_at_smallest_k"] = dead[("topk", min(ks))]
    out["reference_l1"] = arr.reference_l1
    out["bimodality_coefficient_end_minus_first_checkpoint"] = arr.checkpoint_bc[-1] - arr.checkpoint_bc[0]
    out.update(point_metrics(arr.topk_sweep))
    return out


def sweep_report_arrays(arr: SweepArrays) -> dict[str, Any]:
    """The arrays behind the report's figures (Figs 1/7, 2 and 16) from :class:`SweepArrays`.

    The reference standard SAE (``reference_*``: :func:`histogram_arrays`), the aligned ReLU SAE at the sweep
    point nearest the reference's L0 (``aligned_alignment``, ``aligned_density``, ``aligned_dead``,
    ``aligned_l1``), and a of the reference at each training snapshot (``checkpoint_alignment``,
    ``(n_snapshots + 1, d_sae)``, the last row the end of training, at ``checkpoint_steps``, with
    ``checkpoint_bc`` and ``checkpoint_dip_p``).
    """
    return {**histogram_arrays(arr.reference, "reference_"), "reference_l1": arr.reference_l1,
            "aligned_l1": arr.aligned_l1, "aligned_alignment": arr.aligned_alignment,
            "aligned_density": arr.aligned_density, "aligned_dead": arr.aligned_density == 0,
            "checkpoint_alignment": torch.stack(arr.checkpoint_alignment),
            "checkpoint_steps": torch.tensor(arr.checkpoint_steps),
            "checkpoint_bc": torch.tensor(arr.checkpoint_bc),
            "checkpoint_dip_p": torch.tensor(arr.checkpoint_dip_p)}
