"""Claims of "Antipodal Pairing and Mechanistic Signals in Dense SAE Latents" (papers/antipodal-dense-latents.txt).

Real setting: Gemma 2 2B, Gemma Scope 16k JumpReLU, residual stream layer 25; dense = density > 0.1;
PCs over ~250k C4 tokens, k = 300. Definitions used throughout (stated once here, printed by the report):
rho_k(w) = ||P_k w|| / ||w|| with P_k the projector on the top-k residual PCs (centred float64 covariance
over the non-BOS tokens; the paper's Eq. 1 prints a sum; the text's "fraction of the norm" is this ratio);
rho_k of the encoder (W_enc[:, i], sae-lens layout) where the paper uses Eq. 1 as written (§3.1, §3.4,
App B) and of the decoder (W_dec[i]) where it says so (§3.2, Fig 1b); U_{-1} = U[:, -1] of the SVD of W_U
(d_model x d_vocab), compared up to sign, under both readings of W_U (:data:`WU_READINGS`); s_i =
max_{j != i} cos(W_enc[:, i], W_enc[:, j]) * cos(W_dec[i], W_dec[j]); "the pair" (§3.2, Fig 2a, 5b, 6) is
the dense latent (density > 0.1) whose decoder has the largest |cos| with U_{-1}, and its s-partner (each
reading has its own). The real tier uses the paper's k (300 PCs, 10 bottom W_U vectors) on every model;
the toy tier (d_model 32) keeps their fractions of Gemma's 2304 (4 PCs, U_{-1} alone). A fraction over an
empty set is 0; claims that presuppose a non-empty set say so as a precondition.
Metrics: :mod:`replication.metrics.antipodal`; measurement: :mod:`replication.papers.antipodal.analysis`.
"""

from replication.claims import Claim, OpenChoice, Reading, conditions, register, register_paper, tiers

PAPER = "antipodal"
TITLE = "Antipodal Pairing and Mechanistic Signals in Dense SAE Latents"
register_paper(PAPER, TITLE)
_ALL = tiers("toy", "tinylm", "real")

#: which W_U the paper's SVD reads (§3.2 says "W_U"; App A says the authors used TransformerLens)
WU_READINGS = OpenChoice(
    name="W_U",
    readings=(
        Reading("processed", "W_U as TransformerLens's default loading makes it: final-norm gain folded in, "
                             "centred along d_model for a LayerNorm model, unembedding centred over the vocabulary; "
                             "the trivial all-ones left singular vector that centring creates is excluded"),
        Reading("raw", "the model's unembedding as stored, no norm folded, no centring"),
    ),
    primary="processed",
    why="App A: the analyses use TransformerLens, whose default loading (HookedTransformer.from_pretrained) "
        "processes W_U this way; the paper names no other.",
)
#: reported beside every claim that reads U_{-1}: can the target show the mechanism at all?
_SPECTRUM = ("wu_sv_min_over_median", "wu_sv_min_over_next")
_HAS_DENSE = conditions(("n_dense", ">=", 1))

register(
    Claim(
        id="antipodal.sparse_bulk", paper=PAPER, source="§3.1, Fig 1a",
        statement="almost all latents have low PC composition and are sparse",
        paper_value="99% of latents have rho_300 < 0.7 and density < 0.1",
        conditions=conditions(("frac_rho_enc_low_and_sparse", ">=", 0.97)),
        tiers=_ALL,
        rationale="catalog real-tier tolerance 0.97 against the paper's 0.99 (Fig 1a is a scatter, no spread "
                  "is reported).",
        definition="fraction of latents with rho_k(W_enc[:, i]) < 0.7 and density < 0.1 (Eq. 1 is on the "
                   "encoder).",
    ),
    Claim(
        id="antipodal.outliers_mostly_dense", paper=PAPER, source="§3.1",
        statement="of latents with rho_300 > 0.7, most are dense",
        paper_value="67%",
        conditions=conditions(("frac_outliers_dense", ">=", 0.5)),
        tiers=_ALL,
        rationale="catalog tolerance 0.5: a majority, against the paper's 0.67.",
        definition="fraction of outliers (rho_k(W_enc[:, i]) > 0.7) with density > 0.1.",
    ),
    Claim(
        id="antipodal.dense_are_outliers", paper=PAPER, source="§3.1",
        statement="outliers (rho_300 > 0.7) hold most dense latents",
        paper_value="82%",
        conditions=conditions(("frac_dense_outliers", ">=", 0.7)),
        tiers=_ALL,
        rationale="catalog tolerance 0.7 against the paper's 0.82.",
        definition="fraction of dense latents (density > 0.1) with rho_k(W_enc[:, i]) > 0.7.",
    ),
    Claim(
        id="antipodal.pc_wu_co_composition", paper=PAPER, source="§3.2, Fig 1b",
        statement="decoder composition with the top PCs goes with composition with the bottom W_U singular "
                  "vectors",
        paper_value="qualitative co-composition (Fig 1b)",
        conditions=conditions(("spearman_rho_pc_vs_rho_wu", ">", 0.3),
                              ("top_outliers_in_both", ">=", 1.0)),
        tiers=_ALL, readings=WU_READINGS, reported=_SPECTRUM,
        rationale="catalog: Spearman > 0.3 and the top outliers lie in both subspaces.",
        definition="Spearman over latents between rho_k(W_dec[i]) on the top-k PCs and on the bottom-10 "
                   "left singular vectors of W_U (sign-invariant); top_outliers_in_both: the fraction of the "
                   "2 latents with the highest PC composition (a pair, Fig 1b) whose W_U bottom composition "
                   "is strictly above that of at least 90% of the other latents. Reported: the W_U spectrum's "
                   "smallest singular value over its median and over the next smallest.",
    ),
    Claim(
        id="antipodal.pairs_are_antipodal", paper=PAPER, source="§3.2, Fig 1c",
        statement="outliers cluster in pairs whose encoder and decoder cosines are both close to -1",
        paper_value="both cosines close to -1",
        conditions=conditions(("u1_pair_max_cosine", "<=", -0.9), ("frac_both_outliers_antipodal", ">=", 0.5)),
        preconditions=_HAS_DENSE + conditions(("n_both_outliers", ">=", 1)),
        tiers=_ALL, readings=WU_READINGS, reported=("n_both_outliers", "u1_pair_abs_cos_u1") + _SPECTRUM,
        rationale="catalog: the U_{-1} pair has both cosines <= -0.9, and a majority (fraction >= 0.5) of the "
                  "outliers with high composition in both subspaces have an s-partner with both cosines <= -0.9.",
        definition="the pair: the dense latent whose decoder has the largest |cos| with U_{-1}, and its "
                   "s-partner; u1_pair_max_cosine = max(cos(enc_i, enc_j), cos(dec_i, dec_j)). Outliers in both "
                   "subspaces (§3.2): rho_k(W_dec[i]) > 0.7 on the top PCs (§3.1's cut) and a bottom-W_U "
                   "composition strictly above that of >= 90% of the other latents (a rank cut: the composition "
                   "has no absolute scale across k / d_model); frac_both_outliers_antipodal: the fraction of them "
                   "whose s-partner has both cosines <= -0.9.",
    ),
    Claim(
        id="antipodal.pair_never_coactive", paper=PAPER, source="App B, Fig 5b",
        statement="the dense pair is virtually never active on the same token",
        paper_value="virtually never",
        conditions=conditions(("u1_pair_coactivation_rate", "<=", 0.01), ("u1_pair_min_density", ">", 0.1)),
        preconditions=_HAS_DENSE,
        tiers=_ALL, readings=WU_READINGS, reported=_SPECTRUM,
        rationale="catalog: co-activation rate <= 0.01; the claim is about the dense pair, so both latents "
                  "must be dense (the paper's density line 0.1, §2): two rare latents are never co-active "
                  "by chance alone.",
        definition="the pair as in antipodal.pairs_are_antipodal; fraction of (non-BOS) tokens on which both "
                   "are active; u1_pair_min_density = the lower density of the two.",
    ),
    Claim(
        id="antipodal.pair_diff_tracks_u1", paper=PAPER, source="§3.2, Fig 2a",
        statement="the pair's activation difference tracks the residual along U_{-1}",
        paper_value="corr 0.99",
        conditions=conditions(("abs_corr_u1_pair_diff", ">=", 0.95)),
        preconditions=_HAS_DENSE,
        tiers=_ALL, readings=WU_READINGS, reported=_SPECTRUM,
        rationale="catalog tolerance 0.95 against the paper's 0.99; compared up to sign because the sign of "
                  "U_{-1} is arbitrary.",
        definition="|Pearson(f_i - f_j, x . U_{-1})| over tokens, for the pair (i, j) of "
                   "antipodal.pairs_are_antipodal.",
    ),
    Claim(
        id="antipodal.u1_norm_rises_with_depth", paper=PAPER, source="§3.2, Fig 2b",
        statement="the fraction of residual norm along U_{-1} rises toward later layers, jumping at the last",
        paper_value="rises, jumps at the final layer",
        conditions=conditions(("final_minus_max_earlier_u1_fraction", ">", 0.0),
                              ("spearman_layer_u1_fraction", ">", 0.5)),
        tiers=tiers("tinylm", "real"), readings=WU_READINGS, reported=_SPECTRUM,
        rationale="catalog: final-layer fraction above every earlier layer's, Spearman(layer, fraction) > 0.5.",
        definition="fraction = mean_t |x_t . U_{-1}| / ||x_t|| of hook_resid_post per layer.",
    ),
    Claim(
        id="antipodal.u1_tracks_entropy", paper=PAPER, source="§3.2, Fig 2c",
        statement="the residual along U_{-1} correlates significantly with output entropy",
        paper_value="significant correlation over 100k tokens",
        conditions=conditions(("abs_corr_u1_entropy", ">=", 0.3), ("p_corr_u1_entropy", "<", 1e-3)),
        tiers=_ALL, readings=WU_READINGS, reported=_SPECTRUM,
        rationale="catalog: |Pearson| >= 0.3 with p < 1e-3 (scipy.stats.pearsonr); a property of the model "
                  "and data alone, so equal for every SAE of a target.",
        definition="|Pearson(x . U_{-1}, H(softmax(logits)))|, H in nats, over non-BOS tokens, x the "
                   "SAE's input; on the toy tier the logits are LayerNorm(x) @ W_U of the toy unembedding.",
    ),
    Claim(
        id="antipodal.dense_latents_paired", paper=PAPER, source="§3.3, Fig 3",
        statement="most latents with density > 0.3 have pairwise score s > 0.9",
        paper_value="most",
        conditions=conditions(("frac_very_dense_paired", ">", 0.5)),
        tiers=_ALL,
        rationale="catalog: fraction > 0.5 ('most').",
        definition="among latents with density > 0.3, the fraction with s_i > 0.9 (0 if there is none).",
    ),
    Claim(
        id="antipodal.cross_model_trend", paper=PAPER, source="§3.4, Fig 4",
        statement="in TopK SAEs, high rho_300 goes with high s and high density",
        paper_value="positive trend (GPT-2, LLaMA)",
        conditions=conditions(("spearman_rho_s", ">", 0.0), ("p_spearman_rho_s", "<", 1e-3),
                              ("spearman_rho_density", ">", 0.0), ("p_spearman_rho_density", "<", 1e-3)),
        tiers=_ALL,
        reported=("spearman_rho_s_ci95_low", "spearman_rho_s_ci95_high", "spearman_rho_density_ci95_low",
                  "spearman_rho_density_ci95_high"),
        rationale="catalog: both Spearman correlations positive with p < 1e-3 (scipy.stats.spearmanr). At 32k "
                  "latents p < 1e-3 holds for a correlation of 0.02, so each rank correlation's bootstrap 95% "
                  "interval is reported beside it.",
        definition="§3.4 makes the trend claim for TopK SAEs (GPT-2, LLaMA): judged on the TopK targets only. "
                   "Spearman over latents between rho_k(W_enc[:, i]) and s_i, and between rho_k(W_enc[:, i]) "
                   "and density (scipy.stats.spearmanr, two-sided p); interval: percentile bootstrap over "
                   "latents, 1,000 resamples, fixed seed (scipy.stats.bootstrap).",
    ),
    Claim(
        id="antipodal.enc_dec_aligned_when_dense", paper=PAPER, source="App B, Fig 5a",
        statement="high-composition dense latents have high encoder-decoder cosine",
        paper_value="higher than the rest (Fig 5a)",
        conditions=conditions(("median_encdec_cos_outliers_minus_rest", ">", 0.0)),
        preconditions=conditions(("n_dense_outliers", ">=", 1)),
        tiers=_ALL,
        rationale="catalog: median over outliers > median over the rest; the claim presupposes at least one "
                  "dense outlier (the difference is set to 0 when there is none), so without one it is "
                  "inconclusive.",
        definition="median of cos(W_enc[:, i], W_dec[i]) over dense outliers (rho_k(W_enc[:, i]) > 0.7 and "
                   "density > 0.1) minus its median over all other latents.",
    ),
    Claim(
        id="antipodal.no_duplicate_pairs", paper=PAPER, source="App B, Fig 5c",
        statement="s near 1 only when both partner cosines are near -1 (no near-identical twins)",
        paper_value="no twins",
        conditions=conditions(("n_high_s_with_positive_partner_cos", "<=", 0.0)),
        preconditions=conditions(("n_high_s", ">=", 1)),
        tiers=_ALL, reported=("max_s",),
        rationale="catalog: no latent with s > 0.9 whose partners have cos > 0; it presupposes at least one "
                  "latent with s > 0.9.",
        definition="as Fig 5c / App B: for each latent the encoder partner j = argmax_{l != i} "
                   "|cos(W_enc[:, i], W_enc[:, l])| and the decoder partner k = argmax_{l != i} "
                   "|cos(W_dec[i], W_dec[l])| are chosen separately; the count of latents with s_i > 0.9 for "
                   "which either cos(W_enc[:, i], W_enc[:, j]) > 0 or cos(W_dec[i], W_dec[k]) > 0.",
    ),
    Claim(
        id="antipodal.example_pairs", paper=PAPER, source="App B, Fig 6",
        statement="GPT-2 and LLaMA have dense pairs whose decoders project near-oppositely on the bottom "
                  "W_U singular vectors",
        paper_value="GPT-2 densities 0.86 / 0.09; LLaMA 0.60 / 0.26",
        conditions=conditions(("u1_pair_s", ">", 0.9), ("u1_pair_u1_projection_product", "<", 0.0),
                              ("u1_pair_min_wu_rank", ">=", 0.9)),
        preconditions=_HAS_DENSE,
        tiers=tiers("real"), readings=WU_READINGS, reported=("u1_pair_min_density",) + _SPECTRUM,
        rationale="catalog: the pair has s > 0.9 and its decoders' projections on U_{-1} have opposite signs "
                  "(product < 0, sign-invariant); Fig 6 also shows what opposite signs alone do not (they follow "
                  "from antipodality along any direction): both decoders compose strongly with the bottom W_U "
                  "subspace, read as the same rank cut as antipodal.pairs_are_antipodal (>= 90% of latents).",
        definition="the pair as in antipodal.pairs_are_antipodal; (W_dec[i] . U_{-1}) * (W_dec[j] . U_{-1}); "
                   "u1_pair_min_wu_rank: the lower, over i and j, of the fraction of other latents whose "
                   "bottom-W_U composition is strictly below theirs.",
    ),
)
