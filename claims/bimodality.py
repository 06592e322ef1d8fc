"""Claims of "Bimodality of Sparse Autoencoder Features is Still There and Can Be Fixed"
(papers/alignment-bimodality.txt). Alignment score a_i = W_enc[i, :] . W_dec[:, i] (a raw inner product).
"""

from replication.claims import Claim, Requirement, conditions, register, register_paper, tiers

PAPER = "bimodality"
TITLE = "Bimodality of Sparse Autoencoder Features is Still There and Can Be Fixed"
register_paper(PAPER, TITLE)
_ALL = tiers("toy", "tinylm", "real")
#: scores_bimodal's verdict rule, the precondition of the claims that presuppose two clusters
_BIMODAL = conditions(("dip_test_p", "<", 0.05), ("sarle_bimodality_coefficient", ">", 5 / 9))
#: "dead" is "never active on the evaluation tokens": how many, reported beside every claim that reads it
_WINDOW = ("dead_window_tokens",)

register(
    Claim(
        id="bimodality.scale_invariance", paper=PAPER, source="§3.1",
        statement="a_i is unchanged when encoder row i is multiplied by c and decoder column i divided by c",
        paper_value="exact",
        conditions=conditions(("max_abs_alignment_change_under_rescale", "<=", 1e-5)),
        tiers=tiers("toy"),
        rationale="exact up to float32 rounding: 1e-5 absolute for |a| <= O(1) and c in [1e-2, 1e2].",
        definition="max_i |a_i(c_i W_enc[:, i], W_dec[i] / c_i) - a_i(W_enc, W_dec)| (sae-lens orientation) over "
                   "c_i log-uniform in [1e-2, 1e2], on the trained reference standard SAE's float32 weights; "
                   "a_i computed in float64 from the rescaled float32 weights (replication.metrics.bimodality).",
    ),
    Claim(
        id="bimodality.toy_fixed_point", paper=PAPER, source="§3.2",
        statement="1-feature, 1-point, no-bias toy: perfect reconstruction forces a = 1",
        paper_value="a = 1",
        conditions=conditions(("abs_alignment_minus_one", "<", 1e-3)),
        tiers=tiers("toy"),
        rationale="catalog: trained toy reaches |a - 1| < 1e-3.",
        definition="the §3.2 model itself (plain torch: no biases, no L1): x ~ N(0, I_2), one point; "
                   "dictionary_learning's tied init of norm 0.1 with the sign making the feature active on x "
                   "(the derivation assumes an active ReLU); Adam lr 1e-2, 3,000 steps; |a - 1| at the end.",
    ),
    Claim(
        id="bimodality.scores_bimodal", paper=PAPER, source="§4.1, Fig 1",
        statement="alignment scores are bimodal across models and architectures",
        paper_value="bimodal (Fig 1)",
        conditions=conditions(("dip_test_p", "<", 0.05), ("sarle_bimodality_coefficient", ">", 5 / 9)),
        tiers=_ALL,
        rationale="catalog: Hartigan's dip test rejects unimodality at 0.05 and Sarle's BC > 5/9 (the value "
                  "of a uniform distribution).",
        definition="the verdict rule of replication.metrics.bimodality: bimodal iff dip p < 0.05 (diptest "
                   "package, table p-value) and Sarle's BC (bias-corrected skewness and kurtosis) > 5/9. Toy: "
                   "the reference standard SAE = the L1 sweep point whose L0 is nearest the data's planted L0; "
                   "tinylm: the one whose L0 is nearest d_in / 8 = 16.",
    ),
    Claim(
        id="bimodality.good_cluster_at_one", paper=PAPER, source="§4.2",
        statement="the cluster of good features concentrates at a = 1",
        paper_value="a = 1",
        conditions=conditions(("abs_upper_mode_minus_one", "<=", 0.15)),
        preconditions=_BIMODAL,
        tiers=_ALL,
        rationale="catalog: upper mode within 1 +- 0.15. A cluster of good features presupposes two clusters: "
                  "the scores must be bimodal by scores_bimodal's rule, else the upper component of a mixture "
                  "fitted to one bump means nothing and the claim is inconclusive.",
        definition="upper mode: mean of the higher component of a maximum-likelihood two-component Gaussian "
                   "mixture of a (EM, replication.metrics.bimodality.gaussian_mixture_2).",
    ),
    Claim(
        id="bimodality.mcs_correlation", paper=PAPER, source="§4.2, Fig 2",
        statement="alignment correlates with the max cosine similarity against a larger dictionary",
        paper_value="Pearson 0.65",
        conditions=conditions(("pearson_alignment_mcs", ">=", 0.4)),
        tiers=_ALL,
        rationale="catalog tolerance 0.4 against the paper's 0.65.",
        definition="MCS_i = max_j cos(W_dec[i] of dictionary A, W_dec[j] of a larger dictionary B) across two "
                   "independently trained dictionaries (sae-lens rows; the paper's W_dec columns): B has its own "
                   "seed, so its own initialisation and data order. Toy and tinylm: "
                   "B is a standard SAE of twice the width (toy 256, tinylm 1024) at the reference SAE's lambda; "
                   "real: A has 4096 latents, B 16384 (the paper's next size), trained by the suite on Pythia-160M "
                   "layer 8 and Gemma 2 2B layer 12 (replication/papers/bimodality/real.py).",
    ),
    Claim(
        id="bimodality.autointerp_correlation", paper=PAPER, source="§4.3, Fig 3",
        statement="alignment correlates with the autointerp score",
        paper_value="Pearson 0.32",
        conditions=(),
        tiers=tiers("real"),
        rationale="needs an LLM judge to score features; not runnable offline.",
        requires=Requirement.LLM_JUDGE,
    ),
    Claim(
        id="bimodality.aligned_exact", paper=PAPER, source="§5, eq. 3",
        statement="aligned training makes a_i = 1 for every i",
        paper_value="exact",
        conditions=conditions(("max_abs_alignment_minus_one_during_training", "<=", 1e-5)),
        tiers=tiers("toy", "tinylm"),
        rationale="catalog: max |a_i - 1| <= 1e-5 in float32 at every step.",
        definition="max over every training step (from init) and latent of |a_i - 1|, a_i in float64 from the "
                   "float32 weights, over short sae-lens runs of replication-aligned-standard and "
                   "replication-aligned-topk (compressed), observed by replication.training.fit(on_step=...).",
    ),
    Claim(
        id="bimodality.aligned_compression", paper=PAPER, source="§5",
        statement="fixing the last column of A at 0 loses no expressivity and saves m parameters",
        paper_value="same reachable W_enc set; m fewer parameters",
        conditions=conditions(("max_abs_reconstruction_error_compressed", "<=", 1e-5),
                              ("parameter_saving_minus_m", "<=", 0.0), ("parameter_saving_minus_m", ">=", 0.0)),
        tiers=tiers("toy"),
        rationale="exact: any aligned W_enc is reachable with the last column of A at zero (1e-5: far above "
                  "the float64 rounding of the check, which is computed in float64 because the shift divides by "
                  "the decoder's last coordinate), and the count saved is exactly m.",
        definition="A' = A - (A[-1, i] / W_dec[i, -1]) W_dec[i] (sae-lens orientation) has a zero last row and "
                   "the same encoder; error = max |x_hat_compressed - x_hat| over evaluation tokens of a trained "
                   "aligned ReLU SAE and its compressed copy, both in float64; saving = parameter count "
                   "difference of the two sae-lens training SAEs minus d_sae.",
    ),
    Claim(
        id="bimodality.aligned_pareto", paper=PAPER, source="§5.1, Fig 4, 12, 14",
        statement="aligned training beats standard on explained variance and CE loss recovered at matched L0",
        paper_value="better across models, sparsities and sizes",
        conditions=conditions(("ev_gap_min_over_l0_overlap", ">=", 0.0))
        + conditions(("ce_recovered_gap_min_over_l0_overlap", ">=", 0.0), on=("tinylm", "real")),
        tiers=_ALL,
        rationale="catalog: aligned >= standard on explained variance over the L0 overlap of the sweep, and on "
                  "CE loss recovered over the same overlap on every tier that runs an LM (tinylm, real); the toy "
                  "has no LM, so only explained variance applies there.",
        definition="explained variance as in App. B (replication.metrics.explained_variance) and CE loss "
                   "recovered as in App. B / SAEBench (each SAE's reconstruction spliced into the LM at its hook, "
                   "replication.metrics.ce_loss_recovered); aligned minus standard ReLU sweep, interpolated in log "
                   "L0 over the sweeps' L0 overlap (replication.metrics.compare_sweeps); worst gap of each. "
                   "Collapsed points (L0 = 0) are dropped. Real: 4096-latent SAEs trained by the suite on "
                   "Pythia-160M layer 8 and Gemma 2 2B layer 12.",
    ),
    Claim(
        id="bimodality.aligned_no_dead", paper=PAPER, source="§5.2, Fig 5, 9",
        statement="aligned training removes dead features",
        paper_value="standard ~20% dead, aligned ~0%",
        conditions=conditions(("aligned_dead_fraction", "<=", 0.01),
                              ("aligned_minus_standard_dead_fraction", "<", 0.0)),
        tiers=_ALL, reported=_WINDOW,
        rationale="catalog: aligned dead fraction <= 0.01 and below standard.",
        definition="dead = never active on the held-out evaluation tokens (dead_window_tokens of them); "
                   "aligned_dead_fraction = largest over the aligned sweep's points; "
                   "aligned_minus_standard_dead_fraction = largest (aligned - standard) dead-fraction gap over "
                   "the L0 overlap (log-L0 interpolation), so it must be < 0 everywhere.",
    ),
    Claim(
        id="bimodality.dead_cluster_at_zero", paper=PAPER, source="§5.4, Fig 7",
        statement="the low-alignment cluster near 0 is the set of dead features",
        paper_value="~800 of 4096",
        conditions=conditions(("jaccard_low_mode_dead", ">=", 0.8)),
        preconditions=conditions(("n_dead", ">=", 1)),
        tiers=_ALL, reported=_WINDOW,
        rationale="catalog: Jaccard(low-mode set, dead set) >= 0.8. The claim matches a cluster to the dead "
                  "features, so it presupposes that the SAE has dead latents; without any it is inconclusive.",
        definition="§5.4 is about the authors' standard ReLU SAEs (width 4096 on the real tier, which the suite "
                   "trains itself: not the Fig 1 pretrained SAEs). Low-mode set: latents whose posterior of the "
                   "lower component of the two-component mixture of a exceeds 1/2; dead set: never active on "
                   "the held-out evaluation tokens (dead_window_tokens of them: 16,384 on the toy, 100,000 on "
                   "the tinylm); the reference standard SAE of the sweep.",
    ),
    Claim(
        id="bimodality.scr_improves", paper=PAPER, source="§5.3, Fig 6",
        statement="SAEBench spurious-correlation removal is better for aligned SAEs",
        paper_value="better",
        conditions=(),
        tiers=tiers("real"),
        rationale="needs the Bias in Bios data set; not runnable offline.",
        requires=Requirement.LICENSED_DATA,
    ),
    Claim(
        id="bimodality.topk_low_sparsity", paper=PAPER, source="§6, Fig 10, 11",
        statement="aligned TopK helps at low sparsity (small k), negligibly at high sparsity, with fewer dead "
                  "latents at low sparsity",
        paper_value="gain and fewer dead latents at the smallest k (the paper's 'sparsity' is the L0 value)",
        conditions=conditions(("topk_gain_smallest_minus_largest_k", ">=", 0.0),
                              ("topk_dead_aligned_minus_standard_at_smallest_k", "<", 0.0)),
        preconditions=conditions(("topk_dead_fraction_at_smallest_k", ">", 0.0)),
        tiers=tiers("toy", "tinylm"), reported=_WINDOW,
        rationale="catalog (corrected 2026-12; the first edition inverted the direction): gain at the smallest "
                  "k >= gain at the largest k, and aligned TopK has fewer dead latents than standard TopK at the "
                  "smallest k. Fig 11 says TopK has 'almost none dead neurons' at 'larger sparsity', i.e. large k. "
                  "'Fewer dead latents' presupposes that standard TopK has some at the smallest k: if none dies "
                  "the claim is inconclusive (the gain is still recorded).",
        definition="gain(k) = EV(replication-aligned-topk, k) - EV(sae-lens topk, k), same data, seed and "
                   "budget; toy k in {2, 16}, tinylm k in {4, 32}. Both TopK SAEs revive latents with sae-lens's "
                   "AuxK loss, whose dead window is set to a quarter of the run (sae-lens's default of 1,000 "
                   "steps never fires in these 800-1,000-step runs); dead = never active on the held-out "
                   "evaluation tokens (dead_window_tokens of them).",
    ),
    Claim(
        id="bimodality.emerges_in_training", paper=PAPER, source="App D, Fig 16",
        statement="bimodality appears during training",
        paper_value="appears",
        conditions=conditions(("bimodality_coefficient_end_minus_first_checkpoint", ">", 0.0),
                              ("dip_test_p", "<", 0.05), ("sarle_bimodality_coefficient", ">", 5 / 9)),
        tiers=tiers("toy", "tinylm"),
        rationale="catalog: the bimodality statistic rises from init to end over saved checkpoints; and, so "
                  "that a rise without bimodality cannot pass, the end must be bimodal by the verdict rule of "
                  "scores_bimodal (dip p < 0.05 and BC > 5/9).",
        definition="Sarle's BC of a at the end minus at the first saved snapshot (1/5 of training): at the "
                   "initialisation itself every a_i equals ||W_dec[i]||^2 = 0.01 (sae-lens's tied init of norm "
                   "0.1), a constant sample whose BC is undefined.",
    ),
)
