"""Claims of "Antipodal Pairing and Mechanistic Signals in Dense SAE Latents" (papers/antipodal-dense-latents.txt).

Real setting: Gemma 2 2B, Gemma Scope 16k JumpReLU, residual stream layer 25; dense = density > 0.1;
PCs over ~250k C4 tokens, k = 300. Definitions used throughout (stated once here, printed by the report):
rho_k(w) = ||P_k w|| / ||w|| with P_k the projector on the top-k residual PCs (centred float64 covariance
over the non-BOS tokens; the paper's Eq. 1 prints a sum; the text's "fraction of the norm" is this ratio);
rho_k of the encoder (W_enc[:, i], sae-lens layout) where the paper uses Eq. 1 as written (§3.1, §3.4,
App B) and of the decoder (W_dec[i]) where it says so (§3.2, Fig 1b); U_{-1} = U[:, -1] of the SVD of W_U
(d_model x d_vocab), compared up to sign; s_i = max_{j != i} cos(W_enc[:, i], W_enc[:, j]) *
cos(W_dec[i], W_dec[j]); the top pair is the latent with the highest s and its argmax partner. The real
tier uses the paper's k (300 PCs, 10 bottom W_U vectors) on every model; the toy tier (d_model 32) keeps
their fractions of Gemma's 2304 (4 PCs, U_{-1} alone). A fraction over an empty set is 0 (so it never
replicates a claim). Toy seed spreads quoted below: seeds 0-2, JumpReLU / TopK targets.
Metrics: :mod:`replication.metrics.antipodal`; measurement: :mod:`replication.analyses.antipodal`.
"""

from replication.claims import Claim, conditions, register, tiers

PAPER = "antipodal"
_ALL = tiers("toy", "tinylm", "real")

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
        tiers=_ALL,
        rationale="catalog: Spearman > 0.3 and the top outliers lie in both subspaces.",
        definition="Spearman over latents between rho_k(W_dec[i]) on the top-k PCs and on the bottom-10 "
                   "left singular vectors of W_U (sign-invariant); top_outliers_in_both: the fraction of the "
                   "2 latents with the highest PC composition (a pair, Fig 1b) whose W_U bottom composition "
                   "is strictly above that of at least 90% of the other latents.",
    ),
    Claim(
        id="antipodal.pairs_are_antipodal", paper=PAPER, source="§3.2, Fig 1c",
        statement="outliers cluster in pairs whose encoder and decoder cosines are both close to -1",
        paper_value="both cosines close to -1",
        conditions=conditions(("top_pair_max_cosine", "<=", -0.9)),
        tiers=_ALL,
        rationale="catalog: both cosines <= -0.9 for the top pair (toy: -0.9998 on every seed / -0.9989 to "
                  "-0.9990).",
        definition="top pair: the latent with the highest pairwise score s and its argmax partner; "
                   "top_pair_max_cosine = max(cos(enc_i, enc_j), cos(dec_i, dec_j)).",
    ),
    Claim(
        id="antipodal.pair_never_coactive", paper=PAPER, source="App B, Fig 5b",
        statement="the dense pair is virtually never active on the same token",
        paper_value="virtually never",
        conditions=conditions(("top_pair_coactivation_rate", "<=", 0.01), ("top_pair_min_density", ">", 0.1)),
        tiers=_ALL,
        rationale="catalog: co-activation rate <= 0.01; the claim is about the dense pair, so both latents "
                  "must be dense (the paper's density line 0.1, §2): two rare latents are never co-active "
                  "by chance alone (toy: co-activation 0 on every seed; min density 0.359/0.367/0.362 / "
                  "0.304/0.328/0.341).",
        definition="fraction of (non-BOS) tokens on which both latents of the top pair are active; "
                   "top_pair_min_density = the lower density of the two.",
    ),
    Claim(
        id="antipodal.pair_diff_tracks_u1", paper=PAPER, source="§3.2, Fig 2a",
        statement="the pair's activation difference tracks the residual along U_{-1}",
        paper_value="corr 0.99",
        conditions=conditions(("abs_corr_pair_diff_u1", ">=", 0.95)),
        tiers=_ALL,
        rationale="catalog tolerance 0.95 against the paper's 0.99; compared up to sign because the sign of "
                  "U_{-1} is arbitrary (toy: 0.9958-0.9959 / 0.9879-0.9885).",
        definition="|Pearson(f_i - f_j, x . U_{-1})| over tokens, for the top pair (i, j).",
    ),
    Claim(
        id="antipodal.u1_norm_rises_with_depth", paper=PAPER, source="§3.2, Fig 2b",
        statement="the fraction of residual norm along U_{-1} rises toward later layers, jumping at the last",
        paper_value="rises, jumps at the final layer",
        conditions=conditions(("final_minus_max_earlier_u1_fraction", ">", 0.0),
                              ("spearman_layer_u1_fraction", ">", 0.5)),
        tiers=tiers("tinylm", "real"),
        rationale="catalog: final-layer fraction above every earlier layer's, Spearman(layer, fraction) > 0.5.",
        definition="fraction = mean_t |x_t . U_{-1}| / ||x_t|| of hook_resid_post per layer.",
    ),
    Claim(
        id="antipodal.u1_tracks_entropy", paper=PAPER, source="§3.2, Fig 2c",
        statement="the residual along U_{-1} correlates significantly with output entropy",
        paper_value="significant correlation over 100k tokens",
        conditions=conditions(("abs_corr_u1_entropy", ">=", 0.3), ("p_corr_u1_entropy", "<", 1e-3)),
        tiers=_ALL,
        rationale="catalog: |Pearson| >= 0.3 with p < 1e-3 (scipy.stats.pearsonr) (toy: 0.365/0.369/0.376, a "
                  "property of the data alone, so equal for both SAEs).",
        definition="|Pearson(x . U_{-1}, H(softmax(logits)))|, H in nats, over non-BOS tokens, x the "
                   "SAE's input; on the toy tier the logits are LayerNorm(x) @ W_U of the toy unembedding.",
    ),
    Claim(
        id="antipodal.dense_latents_paired", paper=PAPER, source="§3.3, Fig 3",
        statement="most latents with density > 0.3 have pairwise score s > 0.9",
        paper_value="most",
        conditions=conditions(("frac_very_dense_paired", ">", 0.5)),
        tiers=_ALL,
        rationale="catalog: fraction > 0.5 ('most') (toy: 1.0 on every seed, 2 latents above 0.3).",
        definition="among latents with density > 0.3, the fraction with s_i > 0.9 (0 if there is none).",
    ),
    Claim(
        id="antipodal.cross_model_trend", paper=PAPER, source="§3.4, Fig 4",
        statement="in TopK SAEs, high rho_300 goes with high s and high density",
        paper_value="positive trend (GPT-2, LLaMA)",
        conditions=conditions(("spearman_rho_s", ">", 0.0), ("p_spearman_rho_s", "<", 1e-3),
                              ("spearman_rho_density", ">", 0.0), ("p_spearman_rho_density", "<", 1e-3)),
        tiers=_ALL,
        rationale="catalog: both Spearman correlations positive with p < 1e-3 (scipy.stats.spearmanr).",
        definition="Spearman over latents between rho_k(W_enc[:, i]) and s_i, and between rho_k(W_enc[:, i]) "
                   "and density (scipy.stats.spearmanr, two-sided p).",
    ),
    Claim(
        id="antipodal.enc_dec_aligned_when_dense", paper=PAPER, source="App B, Fig 5a",
        statement="high-composition dense latents have high encoder-decoder cosine",
        paper_value="higher than the rest (Fig 5a)",
        conditions=conditions(("median_encdec_cos_outliers_minus_rest", ">", 0.0), ("n_dense_outliers", ">=", 1)),
        tiers=_ALL,
        rationale="catalog: median over outliers > median over the rest; the claim presupposes at least one "
                  "dense outlier (the difference is set to 0 when there is none).",
        definition="median of cos(W_enc[:, i], W_dec[i]) over dense outliers (rho_k(W_enc[:, i]) > 0.7 and "
                   "density > 0.1) minus its median over all other latents.",
    ),
    Claim(
        id="antipodal.no_duplicate_pairs", paper=PAPER, source="App B, Fig 5c",
        statement="s near 1 only when both partner cosines are near -1 (no near-identical twins)",
        paper_value="no twins",
        conditions=conditions(("n_high_s_with_positive_partner_cos", "<=", 0.0)),
        tiers=_ALL,
        rationale="catalog: no latent with s > 0.9 whose partner cosines are > 0.",
        definition="count of latents with s_i > 0.9 whose argmax partner has cos(enc) > 0 and cos(dec) > 0.",
    ),
    Claim(
        id="antipodal.example_pairs", paper=PAPER, source="App B, Fig 6",
        statement="GPT-2 and LLaMA have dense pairs whose decoders project near-oppositely on the bottom "
                  "W_U singular vectors",
        paper_value="GPT-2 densities 0.86 / 0.09; LLaMA 0.60 / 0.26",
        conditions=conditions(("top_pair_s", ">", 0.9), ("top_pair_u1_projection_product", "<", 0.0)),
        tiers=tiers("real"),
        rationale="catalog: a pair with s > 0.9 exists and its decoders' projections on U_{-1} have opposite "
                  "signs (product < 0, sign-invariant).",
        definition="(W_dec[i] . U_{-1}) * (W_dec[j] . U_{-1}) for the top pair.",
    ),
)
