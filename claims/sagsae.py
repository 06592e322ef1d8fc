"""Claims of "Sign-Aware Gated Sparse Autoencoders (Bi-Jump-ReLU)" (papers/sign-aware-gated-sae.txt).

Real setting: Pythia-1B and SmolLM3-3B, resid-mid / MLP-out / attn-out = 6 cells, 3 seeds, L0 sweeps;
baseline Gated SAE at twice the width. R² is explained variance as in replication.metrics.explained_variance.
"""

from replication.claims import Claim, conditions, register, tiers

PAPER = "sagsae"
_ALL = tiers("toy", "tinylm", "real")

register(
    Claim(
        id="sagsae.half_width_dominates", paper=PAPER, source="abstract",
        statement="SA-GSAE at width H Pareto-dominates Gated at 2H over the swept L0 overlap",
        paper_value="on 3 of 6 cells",
        conditions=conditions(("r2_gap_min_over_l0_overlap", ">=", 0.0)),
        tiers=_ALL,
        rationale="catalog: R² >= baseline at every L0 of the overlap (per cell; the real tier counts cells).",
    ),
    Claim(
        id="sagsae.matches_elsewhere", paper=PAPER, source="abstract",
        statement="where it does not dominate, SA-GSAE(H) is within 0.025 R² of Gated(2H)",
        paper_value="max gap -0.008",
        conditions=conditions(("r2_gap_min_over_l0_overlap", ">=", -0.025)),
        tiers=_ALL,
        rationale="catalog: R² gap >= -0.025.",
    ),
    Claim(
        id="sagsae.fewer_dead", paper=PAPER, source="abstract",
        statement="SA-GSAE has far fewer dead latents than Gated",
        paper_value="geomean 2x-500x fewer",
        conditions=conditions(("dead_fraction_geomean_ratio_gated_over_sagsae", ">=", 2.0)),
        tiers=_ALL,
        rationale="catalog: sweep-geomean reduction >= 2x (the low end of the paper's range).",
    ),
    Claim(
        id="sagsae.aux_loss_load_bearing", paper=PAPER, source="ablations",
        statement="without the auxiliary loss the SAE collapses",
        paper_value="R² 0.27, 98% dead",
        conditions=conditions(("no_aux_dead_fraction", ">=", 0.5), ("no_aux_minus_full_r2", "<", 0.0)),
        tiers=tiers("toy", "tinylm"),
        rationale="catalog: ablated dead fraction >= 0.5 and worse R².",
    ),
    Claim(
        id="sagsae.two_sided_gate_load_bearing", paper=PAPER, source="ablations",
        statement="the two-sided gate is load-bearing",
        paper_value="worse without it",
        conditions=conditions(("one_sided_minus_two_sided_r2_max_over_l0_overlap", "<", 0.0)),
        tiers=tiers("toy", "tinylm"),
        rationale="catalog: the one-sided ablation has worse R² at matched L0.",
    ),
    Claim(
        id="sagsae.tied_radii_equivalent", paper=PAPER, source="ablations",
        statement="tying r+ = r- barely changes R²",
        paper_value="ΔR² 0.0015",
        conditions=conditions(("abs_r2_tied_minus_untied", "<=", 0.005)),
        tiers=tiers("toy", "tinylm"),
        rationale="catalog: |ΔR²| <= 0.005.",
    ),
    Claim(
        id="sagsae.bipolar_share", paper=PAPER, source="results",
        statement="many latents carry both polarities where features are anticorrelated",
        paper_value="MLP-out: most latents",
        conditions=conditions(("bipolar_share", ">", 0.5)),
        tiers=_ALL,
        rationale="catalog: > 0.5 on the toy's anticorrelated cell; reported per cell elsewhere.",
        definition="share of live latents that fire with both signs on held-out tokens.",
    ),
    Claim(
        id="sagsae.parameter_accounting", paper=PAPER, source="method",
        statement="sign-awareness stays parameter-efficient",
        paper_value="SA-GSAE(H) < Gated(2H)",
        conditions=conditions(("sagsae_h_minus_gated_2h_parameters", "<", 0.0)),
        tiers=tiers("toy"),
        rationale="exact parameter counts; catalog: SA-GSAE(H) < Gated(2H).",
    ),
    Claim(
        id="sagsae.full_width_collapse", paper=PAPER, source="results",
        statement="full-width SA-GSAE collapses on SmolLM3-3B resid; half-width does not",
        paper_value="reported",
        conditions=conditions(("full_width_dead_fraction_minus_half_width", ">", 0.0)),
        tiers=tiers("real"),
        rationale="real only; reported as the dead-fraction difference full-width minus half-width.",
    ),
)
