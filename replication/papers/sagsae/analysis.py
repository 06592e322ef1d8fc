"""Measurement of the ``sagsae.*`` claims from the sweeps and ablations (:mod:`.sweeps`): the claims' scalars
under each reading of the sparsity penalty (``metric@reading``), and the metric sets each analysis declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from replication.claims import metric_key
from replication.metrics import ParetoComparison
from replication.metrics.sagsae import dead_fraction_floor, geomean_ratio
from replication.papers.sagsae.sweeps import L0_GATE, READINGS, Ablations, SignedPoint, Sweeps, SweepSettings, compare
from replication.targets import MetricSet, PerReading, metric


def _point_metrics(prefix: str, p: SignedPoint) -> dict[str, float]:
    return {f"{prefix}_l0": p.l0, f"{prefix}_r2": p.r2, f"{prefix}_dead_fraction": p.dead_fraction,
            f"{prefix}_bipolar_share": p.bipolar_share}


def _low_over_d_in(cmp: ParetoComparison | None, d_in: int) -> float:
    """The lower end of a matched-L0 comparison's overlap over d_in (> 1: every compared code is denser than
    the input it encodes; no overlap: 0, the overlap precondition already fails)."""
    return 0.0 if cmp is None else float(cmp.l0[0]) / d_in


def _gap_metrics(prefix: str, cmp: ParetoComparison | None) -> dict[str, float]:
    """``{prefix}_min/max_over_l0_overlap`` and whether the L0 ranges overlap (if not, the gaps are 0 and the
    claims reading them are inconclusive by their precondition)."""
    if cmp is None:
        return {f"{prefix}_min_over_l0_overlap": 0.0, f"{prefix}_max_over_l0_overlap": 0.0,
                f"{prefix}_l0_ranges_overlap": 0.0}
    return {f"{prefix}_min_over_l0_overlap": float(cmp.min_gap), f"{prefix}_max_over_l0_overlap": float(cmp.max_gap),
            f"{prefix}_l0_ranges_overlap": 1.0}


def _reading_sweep_metrics(settings: SweepSettings, s: Sweeps, reading: str) -> dict[str, float]:
    sag = s.sagsae[reading]
    out = _gap_metrics("r2_gap", s.pareto[reading])
    out["l0_ranges_overlap"] = out.pop("r2_gap_l0_ranges_overlap")
    out["l0_overlap_low_over_d_in"] = _low_over_d_in(s.pareto[reading], s.d_in)
    if s.pareto[reading] is not None:
        out["l0_overlap_low"], out["l0_overlap_high"] = float(s.pareto[reading].l0[0]), float(s.pareto[reading].l0[-1])
    dead_s = torch.tensor([p.dead_fraction for p in sag])
    dead_g = torch.tensor([p.dead_fraction for p in s.gated])
    eps = dead_fraction_floor(settings.h, 2 * settings.h)
    out["dead_fraction_geomean_ratio_gated_over_sagsae"] = float(geomean_ratio(dead_g, dead_s, eps))
    out["dead_fraction_mean_gated_minus_sagsae"] = float(dead_g.mean() - dead_s.mean())
    out["dead_fraction_max_either"] = float(max(dead_s.max(), dead_g.max()))
    op = next(p for p in sag if p.coefficient == settings.operating(reading))
    out["bipolar_share"] = op.bipolar_share
    out["operating_l0_over_d_in"] = op.l0 / s.d_in
    return out


def sweep_metrics(settings: SweepSettings, s: Sweeps) -> dict[str, float]:
    """The claims' scalars under each reading (``metric@reading``), and every sweep point's
    ``{sagsae-<reading>,gated,jumprelu}_lam<λ>_{l0,r2,...}``; the JumpReLU(2H) comparison is reported."""
    out: dict[str, float] = {}
    for reading, points in s.sagsae.items():
        for p in points:
            out.update(_point_metrics(f"sagsae_{reading}_lam{p.coefficient:g}", p))
        out.update({metric_key(m, reading): v for m, v in _reading_sweep_metrics(settings, s, reading).items()})
    for p in s.gated:
        out.update(_point_metrics(f"gated_lam{p.coefficient:g}", p))
    for p in s.jumprelu:
        out.update(_point_metrics(f"jumprelu_lam{p.coefficient:g}", p))
    jump = compare(s.gated, s.jumprelu)
    if jump is not None:  # reported only: Gated(2H) - JumpReLU(2H), the penalty's effect without sign-awareness
        out["r2_gap_gated_minus_jumprelu_min_over_l0_overlap"] = float(jump.min_gap)
        out["r2_gap_gated_minus_jumprelu_max_over_l0_overlap"] = float(jump.max_gap)
    out["dead_window_tokens"] = float(s.n_eval)
    first = s.sagsae[L0_GATE][0]
    out["sagsae_h_parameters"] = float(first.n_parameters)
    out["gated_2h_parameters"] = float(s.gated[0].n_parameters)
    out["sagsae_h_minus_gated_2h_parameters"] = float(first.n_parameters - s.gated[0].n_parameters)
    return out


def ablation_metrics(by_reading: dict[str, Ablations]) -> dict[str, float]:
    """The ablation claims' scalars under each reading (``metric@reading``), and each ablated SAE's L0 / R² /
    dead fraction."""
    out: dict[str, float] = {}
    for reading, a in by_reading.items():
        mine: dict[str, float] = {}
        for name, p in (("full", a.full), ("no_aux", a.no_aux)):
            mine.update({f"{name}_l0": p.l0, f"{name}_r2": p.r2, f"{name}_dead_fraction": p.dead_fraction})
        for tag, points in (("one_sided", a.one_sided), ("untied", a.untied)):
            for p in points:
                mine.update({f"{tag}_lam{p.coefficient:g}_l0": p.l0, f"{tag}_lam{p.coefficient:g}_r2": p.r2})
        mine["no_aux_minus_full_r2"] = a.no_aux.r2 - a.full.r2
        one = _gap_metrics("one_sided_minus_two_sided_r2", a.one_sided_vs_two_sided)
        tied = _gap_metrics("tied_minus_untied_r2", a.tied_vs_untied)
        mine.update(one)
        mine.update(tied)
        mine["one_sided_minus_two_sided_r2_l0_overlap_low_over_d_in"] = _low_over_d_in(a.one_sided_vs_two_sided, a.d_in)
        mine["tied_minus_untied_r2_l0_overlap_low_over_d_in"] = _low_over_d_in(a.tied_vs_untied, a.d_in)
        mine["abs_r2_tied_minus_untied_max_over_l0_overlap"] = max(abs(tied["tied_minus_untied_r2_min_over_l0_overlap"]),
                                                                   abs(tied["tied_minus_untied_r2_max_over_l0_overlap"]))
        out.update({metric_key(m, reading): v for m, v in mine.items()})
    return out


@dataclass(frozen=True)
class SweepMetrics(MetricSet):
    """SA-GSAE(H) vs Gated(2H) over the sweeps (``half_width_dominates``, ``matches_elsewhere``, ``fewer_dead``,
    ``bipolar_share``, ``parameter_accounting``)."""

    READINGS: ClassVar[tuple[str, ...]] = READINGS
    r2_gap_min_over_l0_overlap: PerReading = metric("min over the L0 overlap of R²(SA-GSAE(H)) - R²(Gated(2H))")
    l0_ranges_overlap: PerReading = metric("1 if the two sweeps' L0 ranges overlap, else 0")
    l0_overlap_low_over_d_in: PerReading = metric("the overlap's lower end over d_in (> 1: no sparse code compared)")
    operating_l0_over_d_in: PerReading = metric("L0 of the SA-GSAE at the operating lambda over d_in")
    dead_fraction_geomean_ratio_gated_over_sagsae: PerReading = metric(
        "geometric mean over the sweeps of dead(Gated) / dead(SA-GSAE), floored at 1 / (2 width)")
    dead_fraction_mean_gated_minus_sagsae: PerReading = metric("mean dead(Gated) - mean dead(SA-GSAE)")
    dead_fraction_max_either: PerReading = metric("the largest dead fraction of either sweep")
    bipolar_share: PerReading = metric("fraction of live latents whose minority sign is >= 0.1 of their firings")
    sagsae_h_minus_gated_2h_parameters: float = metric("parameters of SA-GSAE(H) minus Gated(2H)")
    dead_window_tokens: float = metric("tokens of the window on which 'dead' was judged")


@dataclass(frozen=True)
class AblationMetrics(MetricSet):
    """The paper's ablations of SA-GSAE(H) (``aux_loss_load_bearing``, ``tied_radii_equivalent``,
    ``two_sided_gate_load_bearing``)."""

    READINGS: ClassVar[tuple[str, ...]] = READINGS
    no_aux_dead_fraction: PerReading = metric("dead fraction without the auxiliary loss")
    no_aux_minus_full_r2: PerReading = metric("R² without the auxiliary loss minus with it")
    abs_r2_tied_minus_untied_max_over_l0_overlap: PerReading = metric("max |R²(tied) - R²(untied)| at matched L0")
    tied_minus_untied_r2_l0_ranges_overlap: PerReading = metric("1 if the tied and untied sweeps overlap in L0")
    tied_minus_untied_r2_l0_overlap_low_over_d_in: PerReading = metric("that overlap's lower end over d_in")
    one_sided_minus_two_sided_r2_max_over_l0_overlap: PerReading = metric(
        "max over the L0 overlap of R²(one-sided gate) - R²(two-sided)")
    one_sided_minus_two_sided_r2_l0_ranges_overlap: PerReading = metric("1 if those sweeps overlap in L0")
    one_sided_minus_two_sided_r2_l0_overlap_low_over_d_in: PerReading = metric("that overlap's lower end over d_in")


@dataclass(frozen=True)
class FullWidthMetrics(MetricSet):
    """``full_width_collapse``: SA-GSAE at 2H against H at the operating lambda."""

    READINGS: ClassVar[tuple[str, ...]] = READINGS
    full_width_minus_half_width_r2: PerReading = metric("R²(SA-GSAE(2H)) - R²(SA-GSAE(H))")
    full_width_dead_fraction_minus_half_width: PerReading = metric("dead(SA-GSAE(2H)) - dead(SA-GSAE(H))")
