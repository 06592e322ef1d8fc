"""Cross-paper questions (claims catalog, section ``cross``): predictions that follow from putting two of the
papers side by side, which none of them tested. Judged like the papers' claims; the report shows them as
"holds" / "does not hold" / "inconclusive", with no paper value.

Definitions as in :mod:`claims.antipodal` (density over counted tokens, dense = density > 0.1, s_i, U_{-1}
under both readings of W_U, "the pair" = the dense latent nearest U_{-1} and its s-partner) and
:mod:`claims.bimodality` (a_i = W_enc[:, i] . W_dec[i], the two-component mixture of the scores). For the
SA-GSAE a latent is active when its signed activation is non-zero, on either side.
Measurement: :mod:`replication.papers.cross`.
"""

from claims.antipodal import WU_READINGS
from replication.claims import Claim, conditions, register, register_paper, tiers

PAPER = "cross"
TITLE = "Cross-paper questions"
register_paper(PAPER, TITLE)
PREDICTION = "a prediction (tested by neither paper)"
_PAIR_EXISTS = ("the pair exists: s > 0.9 (antipodal §3.3's pairing threshold), both cosines <= -0.9 (the "
                "catalog's antipodal), both latents dense (density > 0.1, §2)")

register(
    Claim(
        id="cross.bipolar_absorbs_antipodal_pair",
        paper=PAPER,
        source="antipodal §3.2 + sagsae (bipolar sharing)",
        statement="on a dense signed signal, where a non-negative SAE learns an antipodal pair, a sign-aware SAE "
                  "(SA-GSAE) learns one bipolar latent instead",
        paper_value=PREDICTION,
        conditions=conditions(("sagsae_max_dense_abs_corr_u1", ">=", 0.95), ("sagsae_n_dense_paired", "<=", 0.0)),
        preconditions=conditions(("jumprelu_u1_pair_s", ">", 0.9), ("jumprelu_u1_pair_max_cosine", "<=", -0.9),
                                 ("jumprelu_u1_pair_min_density", ">", 0.1)),
        reported=("sagsae_n_dense", "sagsae_best_latent_density"),
        tiers=tiers("toy", "tinylm"),
        readings=WU_READINGS,
        rationale="the catalog's tolerance: |Pearson| >= 0.95, the pair-difference criterion of antipodal Fig 2a "
                  "applied to the one signed latent, and no dense latent paired (s > 0.9, §3.3's threshold, with a "
                  "dense partner); precondition: on the same data the JumpReLU SAE has the pair (" + _PAIR_EXISTS
                  + ").",
        definition="SA-GSAE (replication-sagsae, tied radii, the l0-gate reading of its penalty: sagsae's primary) "
                   "at the JumpReLU SAE's width and L0 coefficient, same data and budget. sagsae_max_dense_abs_corr_u1"
                   " = max over the SA-GSAE's dense latents of |Pearson(f_i, x . U_{-1})| over counted tokens (f_i "
                   "signed); sagsae_n_dense_paired = number of dense latents whose s-partner is dense and s_i > 0.9.",
    ),
    Claim(
        id="cross.dense_pair_in_good_cluster",
        paper=PAPER,
        source="antipodal §3.2 + bimodality §4.2",
        statement="the dense antipodal pair's latents are good features: their alignment scores lie in the upper "
                  "mode",
        paper_value=PREDICTION,
        conditions=conditions(("pair_in_upper_mode", ">=", 1.0)),
        preconditions=conditions(("sae_dip_test_p", "<", 0.05), ("sae_sarle_bimodality_coefficient", ">", 5 / 9),
                                 ("sae_u1_pair_s", ">", 0.9), ("sae_u1_pair_max_cosine", "<=", -0.9),
                                 ("sae_u1_pair_min_density", ">", 0.1)),
        reported=("pair_alignment_min", "sae_upper_mode"),
        tiers=tiers("toy", "tinylm", "real"),
        readings=WU_READINGS,
        rationale="the catalog's tolerance: both latents above the mixture's decision boundary (exact); "
                  "preconditions: the scores are bimodal (bimodality §4.1's test: dip p < 0.05 and Sarle's BC > 5/9) "
                  "and " + _PAIR_EXISTS + ".",
        definition="On the antipodal targets' SAEs (toy and tinylm: the JumpReLU SAE; real: the paper's three "
                   "SAEs). pair_in_upper_mode = 1 if neither latent of the pair is assigned to the lower component "
                   "of the two-component mixture of a_i (posterior > 1/2, replication.metrics.bimodality), else 0.",
    ),
    Claim(
        id="cross.aligned_keeps_pair",
        paper=PAPER,
        source="antipodal §3.2 + bimodality §5",
        statement="aligned training (a_i = 1 pinned) still learns the dense antipodal pair that standard training "
                  "learns",
        paper_value=PREDICTION,
        conditions=conditions(("aligned_u1_pair_s", ">", 0.9), ("aligned_u1_pair_min_density", ">", 0.1),
                              ("aligned_abs_corr_u1_pair_diff", ">=", 0.95)),
        preconditions=conditions(("topk_u1_pair_s", ">", 0.9), ("topk_u1_pair_min_density", ">", 0.1),
                                 ("topk_abs_corr_u1_pair_diff", ">=", 0.95)),
        reported=("aligned_u1_pair_max_cosine",),
        tiers=tiers("toy", "tinylm"),
        readings=WU_READINGS,
        rationale="the catalog's tolerance: a pair with s > 0.9 (§3.3), both latents dense (density > 0.1, §2) and "
                  "|corr(f_i - f_j, x . U_{-1})| >= 0.95 (Fig 2a); precondition: standard training of the same "
                  "architecture learns that pair on the same data (the same three conditions).",
        definition="TopK, the architecture whose standard SAE learns the pair on the antipodal toy (ReLU+L1 splits "
                   "it into same-sign twins): sae-lens topk against replication-aligned-topk (bimodality §5-6's aligned "
                   "encoder, W_enc[:, i] = A[:, i] + alpha_i W_dec[i] with a_i = 1 at every step) at the same k, "
                   "width, data and budget.",
    ),
)
