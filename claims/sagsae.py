"""Claims of "Sign-Aware Gated Sparse Autoencoders (Bi-Jump-ReLU)" (papers/sign-aware-gated-sae.txt).

Real setting: Pythia-1B and SmolLM3-3B, resid-mid / MLP-out / attn-out = 6 cells, 3 seeds, L0 sweeps;
baseline Gated SAE at twice the width. The architecture and its exact equations are in
``replication/saes/sagsae.py``; the toy measurement in ``replication/papers/sagsae/``.

Shared definitions: R² is explained variance ``1 - FVU_pooled`` (replication.metrics.explained_variance);
L0 is the mean number of latents active with either sign per token; "dead" means never active (either sign)
on the 16,384 held-out tokens; sweeps are compared at matched L0 by interpolating R² in log L0 over the two
sweeps' L0 overlap (replication.metrics.compare_sweeps, its ends and every measured L0 inside it).

Tiers: every target is one cell, judged per cell (per seed, every seed must hold). The tinylm cells are the
tiny LM's middle layer's resid-mid, MLP-out and attn-out (replication/papers/sagsae/tinylm.py). On the real
tier (replication/papers/sagsae/real.py) the catalog's "on >= 3 of 6 cells" is judged where the paper
says it holds: ``half_width_dominates`` on the three cells it names (both MLP-out, Pythia-1B resid-mid),
``matches_elsewhere`` on the remaining three, ``bipolar_share`` on the MLP-out cells ("most latents"),
``full_width_collapse`` on SmolLM3-3B resid-mid, ``fewer_dead`` on all six.
"""

from replication.claims import Claim, OpenChoice, Reading, conditions, register, register_paper, tiers

PAPER = "sagsae"
TITLE = "Sign-Aware Gated Sparse Autoencoders (Bi-Jump-ReLU)"
register_paper(PAPER, TITLE)
_ALL = tiers("toy", "tinylm", "real")

#: the paper's sparsity penalty is named only in prose ("two-sided gated sparsity")
PENALTY_READINGS = OpenChoice(
    name="sparsity penalty",
    readings=(
        Reading("l0-gate", "an L0 on the two-sided gate, as the JumpReLU SAE (sae-lens's step L0 with its "
                           "straight-through estimator), on the SA-GSAE's own lambda grid"),
        Reading("l1-gate", "the Gated SAE's L1 on the gate path, |a_i| ||W_dec[i]||, over the Gated SAE's "
                           "lambda grid (the same penalty, so the same coefficients)"),
    ),
    primary="l0-gate",
    why="the paper names its activation a Bi-Jump-ReLU, and a two-sided gate can be made sparse only through "
        "its dead zone [-theta-, theta+], which the JumpReLU's L0 trains directly, whereas the Gated SAE's L1 "
        "can close it only by shrinking the shared encoder that the magnitude path also reads "
        "(replication/saes/sagsae.py)",
)
#: a matched-L0 comparison presupposes that the two sweeps' L0 ranges overlap, and a claim about sparse
#: autoencoders presupposes sparse codes: the overlap must reach an L0 no larger than d_in (the paper's L0
#: targets, "approximately 5-200" on d_in 2,048, are far below it)
_OVERLAP = conditions(("l0_ranges_overlap", ">=", 1), ("l0_overlap_low_over_d_in", "<=", 1))

_GAP = ("gap(L0) = R²(SA-GSAE at H) - R²(Gated at 2H), both interpolated piecewise-linearly in log L0, "
        "evaluated at the ends of the sweeps' L0 overlap and at every measured L0 inside it; min over "
        "those L0s. The Gated baseline is Rajamanoharan et al.'s: sae-lens's Gated SAE with the auxiliary loss "
        "through a frozen (stop-gradient) decoder (replication-gated); the SA-GSAE's auxiliary loss likewise. "
        "Toy: SA-GSAE(64) swept over lambda in {0.03, 0.1, 0.3, 1} (l0-gate) or the Gated grid (l1-gate), "
        "Gated(128) over lambda in {0.3, 0.6, 1, 2}; tinylm: SA-GSAE(256) over lambda in {0.1, 0.3, 1, 3} "
        "(l0-gate), Gated(512) over lambda in {1, 3, 10}; real: SA-GSAE(8192) and Gated(16384) over the "
        "tinylm's lambdas; points with L0 = 0 are dropped; if the two sweeps' L0 ranges do not overlap, the "
        "claim is inconclusive. Reported beside it (not a claim): a sae-lens JumpReLU(2H) sweep over the "
        "l0-gate grid, to tell the effect of the penalty from that of sign-awareness.")

register(
    Claim(
        id="sagsae.half_width_dominates", paper=PAPER, source="abstract",
        statement="SA-GSAE at width H Pareto-dominates Gated at 2H over the swept L0 overlap",
        paper_value="strictly, over the entire swept L0 overlap, on 3 of 6 cells (both MLP-out, Pythia-1B "
                    "resid-mid)",
        conditions=conditions(("r2_gap_min_over_l0_overlap", ">=", 0.0)),
        preconditions=_OVERLAP, readings=PENALTY_READINGS,
        tiers=_ALL,
        rationale="catalog: R² >= baseline at every L0 of the overlap, no margin added; per cell (one cell "
                  "per target); on the real tier, on each of the 3 cells the paper names.",
        definition=_GAP,
    ),
    Claim(
        id="sagsae.matches_elsewhere", paper=PAPER, source="abstract",
        statement="where it does not dominate, SA-GSAE(H) is within 0.025 R² of Gated(2H)",
        paper_value="R² within 0.025 (max gap -0.008) on the other 3 cells",
        conditions=conditions(("r2_gap_min_over_l0_overlap", ">=", -0.025)),
        preconditions=_OVERLAP, readings=PENALTY_READINGS,
        tiers=_ALL,
        rationale="catalog: R² gap >= -0.025 (the paper's own bound; its worst measured gap was -0.008); on "
                  "the real tier, on the 3 cells where the paper does not claim dominance.",
        definition=_GAP,
    ),
    Claim(
        id="sagsae.fewer_dead", paper=PAPER, source="abstract",
        statement="SA-GSAE has far fewer dead latents than Gated",
        paper_value="dead fraction cut by 0.35-0.62 absolute; sweep-geomean 100x-500x (MLP-out, Pythia resid), "
                    "2x-4x (attention, SmolLM3 resid)",
        conditions=conditions(("dead_fraction_geomean_ratio_gated_over_sagsae", ">=", 2.0)),
        preconditions=conditions(("dead_fraction_max_either", ">", 0.0)) + _OVERLAP,
        reported=("dead_fraction_mean_gated_minus_sagsae", "dead_window_tokens"),
        tiers=_ALL, readings=PENALTY_READINGS,
        rationale="catalog: sweep-geomean reduction >= 2x, the low end of the paper's range; the paper's "
                  "absolute cut (0.35-0.62) is reported beside it as the mean dead-fraction difference. A "
                  "reduction presupposes dead latents: if no point of either sweep has one, the claim is "
                  "inconclusive rather than decided by the floor eps.",
        definition="geomean_j max(dead_Gated_j, eps) / geomean_j max(dead_SAGSAE_j, eps) over each sweep's "
                   "points (replication.metrics.sagsae.geomean_ratio); a zero dead fraction enters as "
                   "eps = 1 / (2 * 2H), half a latent of the wider SAE (toy 1/256, tinylm 1/1024, real "
                   "1/32768). Dead: never active (either sign) on the held-out evaluation tokens (16,384).",
    ),
    Claim(
        id="sagsae.aux_loss_load_bearing", paper=PAPER, source="ablations",
        statement="without the auxiliary loss the SAE collapses",
        paper_value="R² 0.27, 98% dead",
        conditions=conditions(("no_aux_dead_fraction", ">=", 0.5), ("no_aux_minus_full_r2", "<", 0.0)),
        tiers=tiers("toy", "tinylm"), readings=PENALTY_READINGS,
        rationale="catalog: ablated dead fraction >= 0.5 and worse R² (strictly).",
        definition="SA-GSAE(H) trained without the auxiliary gate-path reconstruction, at the reading's "
                   "operating lambda (1 on every tier and reading) and the same budget as the full SA-GSAE; "
                   "compared at matched lambda, not L0 (a collapsed SAE has no L0 to match).",
    ),
    Claim(
        id="sagsae.two_sided_gate_load_bearing", paper=PAPER, source="ablations",
        statement="the two-sided gate is load-bearing",
        paper_value="worse without it",
        conditions=conditions(("one_sided_minus_two_sided_r2_max_over_l0_overlap", "<", 0.0)),
        preconditions=conditions(("one_sided_minus_two_sided_r2_l0_ranges_overlap", ">=", 1),
                                 ("one_sided_minus_two_sided_r2_l0_overlap_low_over_d_in", "<=", 1)),
        tiers=tiers("toy", "tinylm"), readings=PENALTY_READINGS,
        rationale="catalog: the one-sided ablation has worse R² at matched L0 - at every L0 of the overlap "
                  "(max of the gap < 0), no margin; inconclusive if the two sweeps' L0 ranges do not overlap.",
        definition="R²(one-sided SA-GSAE) - R²(two-sided SA-GSAE), both at H, compared over the L0 overlap "
                   "as for half_width_dominates; max over the overlap. Toy: both swept over the same lambdas; "
                   "tinylm l0-gate: two-sided over {0.1, 0.3, 1, 3}, one-sided over {1, 3, 10} (at a given "
                   "lambda its L0 is higher, so over the two-sided lambdas the sweeps did not overlap).",
    ),
    Claim(
        id="sagsae.tied_radii_equivalent", paper=PAPER, source="ablations",
        statement="tying r+ = r- barely changes R²",
        paper_value="|ΔR²| = 0.0015",
        conditions=conditions(("abs_r2_tied_minus_untied_max_over_l0_overlap", "<=", 0.005)),
        preconditions=conditions(("tied_minus_untied_r2_l0_ranges_overlap", ">=", 1),
                                 ("tied_minus_untied_r2_l0_overlap_low_over_d_in", "<=", 1)),
        tiers=tiers("toy", "tinylm"), readings=PENALTY_READINGS,
        rationale="catalog: |ΔR²| <= 0.005, at every L0 of the two sweeps' overlap (matched L0, not a shared "
                  "lambda: tying can move L0 at a given lambda); inconclusive without an overlap.",
        definition="max over the L0 overlap of |R²(tied radii) - R²(untied r+, r-)|, both SA-GSAE(H) swept over "
                   "the reading's lambdas with the same budget, interpolated in log L0 as half_width_dominates.",
    ),
    Claim(
        id="sagsae.bipolar_share", paper=PAPER, source="results",
        statement="many latents carry both polarities where features are anticorrelated",
        paper_value="MLP-out: most latents; attention: a few top latents",
        conditions=conditions(("bipolar_share", ">", 0.5)),
        preconditions=conditions(("operating_l0_over_d_in", "<=", 1)),
        tiers=_ALL, readings=PENALTY_READINGS,
        rationale="catalog: > 0.5 on the toy's anticorrelated cell; reported per cell elsewhere. Sharing signs "
                  "is a property of a sparse code: inconclusive if the operating point's L0 exceeds d_in.",
        definition="share of live latents whose minority sign accounts for >= 10% of their firings "
                   "(min(c+, c-) / (c+ + c-) >= 0.1) on held-out tokens (replication.metrics.sagsae."
                   "bipolar_share), of SA-GSAE(H) at the reading's operating lambda (1 on every tier and "
                   "reading; toy l0-gate: the sweep point whose L0 is nearest the toy's true 3.2).",
    ),
    Claim(
        id="sagsae.parameter_accounting", paper=PAPER, source="method",
        statement="sign-awareness stays parameter-efficient",
        paper_value="SA-GSAE(H) < Gated(2H)",
        conditions=conditions(("sagsae_h_minus_gated_2h_parameters", "<", 0.0)),
        tiers=tiers("toy"), by_construction=True,
        rationale="holds for every width by algebra (2 d_in H + d_in + 5H < 4 d_in H + d_in + 6H for any d_in, "
                  "H >= 1), so it is an instrument check, shown as 'by construction': the exact integer counts "
                  "sum(p.numel()) of the trained SA-GSAE(H) minus Gated(2H), against the formulas in "
                  "replication/saes/sagsae.py (tests/unit/test_sagsae_architecture.py).",
        definition="SA-GSAE(H): 2 d_in H + d_in + 5H (tied radii; 6H untied); Gated(2H): 4 d_in H + d_in + 6H.",
    ),
    Claim(
        id="sagsae.full_width_collapse", paper=PAPER, source="results",
        statement="full-width SA-GSAE collapses on SmolLM3-3B resid; half-width does not",
        paper_value="a reproducible reconstruction collapse",
        conditions=conditions(("full_width_minus_half_width_r2", "<", 0.0)),
        reported=("full_width_dead_fraction_minus_half_width",),
        tiers=tiers("real"), readings=PENALTY_READINGS,
        rationale="real only; the paper reports a reconstruction collapse, so R² is judged: full-width (2H) "
                  "below half-width (H) at the operating lambda; the dead-fraction difference is reported "
                  "beside it.",
    ),
)
