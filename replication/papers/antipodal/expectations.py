"""Expected outcomes of the antipodal claims where they are not "replicated" (primary reading), in words:
the numbers are in the test output and the report."""

from replication.papers.antipodal.tinylm import TINYLM_JUMPRELU, TINYLM_TOPK
from replication.papers.antipodal.toy import TOY_CONTROL_TARGET, TOY_JUMPRELU_TARGET, TOY_RELU_TARGET, TOY_TOPK_TARGET
from replication.targets import Expectation
from replication.verdict import Status

# toy tier
_TOY_SCALE = ("the toy's top PCs (300/2304 of 32 dims: 4) are u plus the directions of the most frequent "
              "(Zipfian) sparse features, whose latents are sparse outliers; 3 of 128 latents is already more "
              "than the paper's 1%")
_TOY_RANKS = ("only u is both a top PC and a bottom W_U direction, so a rank correlation over 128 latents rests "
              "on the pair; the rest of the latents carry no continuum of partial composition")
_RELU_TWINS = ("ReLU+L1 splits the dense signal over a dozen same-sign latents (twins), so the pair nearest U_{-1} "
               "is a near-duplicate, not an antipodal pair")
_J, _T, _R, _C = TOY_JUMPRELU_TARGET.name, TOY_TOPK_TARGET.name, TOY_RELU_TARGET.name, TOY_CONTROL_TARGET.name
_TOY: tuple[tuple[str, str, Status, str], ...] = (
    ("antipodal.sparse_bulk", _J, Status.NOT_REPLICATED, _TOY_SCALE),
    ("antipodal.sparse_bulk", _T, Status.NOT_REPLICATED, _TOY_SCALE),
    ("antipodal.sparse_bulk", _R, Status.NOT_REPLICATED, f"{_TOY_SCALE}; {_RELU_TWINS}"),
    ("antipodal.outliers_mostly_dense", _J, Status.NOT_REPLICATED, f"{_TOY_SCALE}: the dense pair is outnumbered"),
    ("antipodal.outliers_mostly_dense", _T, Status.NOT_REPLICATED,
     f"{_TOY_SCALE}: the dense pair is outnumbered on most seeds"),
    ("antipodal.pc_wu_co_composition", _J, Status.NOT_REPLICATED, _TOY_RANKS),
    ("antipodal.pc_wu_co_composition", _T, Status.NOT_REPLICATED, _TOY_RANKS),
    ("antipodal.pairs_are_antipodal", _T, Status.NOT_REPLICATED,
     "the U_{-1} pair is antipodal, but TopK (k = 3) leaves dead and near-dead latents whose decoders lie in "
     "both subspaces (near u) without an antipodal partner, and they outnumber the pair"),
    ("antipodal.cross_model_trend", _T, Status.NOT_REPLICATED, _TOY_RANKS),
    ("antipodal.pairs_are_antipodal", _R, Status.NOT_REPLICATED, _RELU_TWINS),
    ("antipodal.pair_never_coactive", _R, Status.NOT_REPLICATED, f"{_RELU_TWINS}: the twins fire together"),
    ("antipodal.pair_diff_tracks_u1", _R, Status.NOT_REPLICATED, _RELU_TWINS),
    ("antipodal.enc_dec_aligned_when_dense", _R, Status.NOT_REPLICATED,
     f"{_RELU_TWINS}; the twins' encoders are not aligned with their decoders"),
    ("antipodal.no_duplicate_pairs", _R, Status.NOT_REPLICATED, _RELU_TWINS),
    # negative control: every claim that presupposes the dense signal or a dense pair must not replicate
    ("antipodal.outliers_mostly_dense", _C, Status.NOT_REPLICATED, "no dense latent"),
    ("antipodal.dense_are_outliers", _C, Status.NOT_REPLICATED, "no dense latent"),
    ("antipodal.pc_wu_co_composition", _C, Status.NOT_REPLICATED, "nothing lies along U_{-1} but noise"),
    ("antipodal.pairs_are_antipodal", _C, Status.INCONCLUSIVE, "no dense latent, so no pair to judge"),
    ("antipodal.pair_never_coactive", _C, Status.INCONCLUSIVE, "no dense latent, so no pair to judge"),
    ("antipodal.pair_diff_tracks_u1", _C, Status.INCONCLUSIVE, "no dense latent, so no pair to judge"),
    ("antipodal.u1_tracks_entropy", _C, Status.NOT_REPLICATED, "no signal along U_{-1} but noise"),
    ("antipodal.dense_latents_paired", _C, Status.NOT_REPLICATED, "no latent with density > 0.3"),
    ("antipodal.enc_dec_aligned_when_dense", _C, Status.INCONCLUSIVE, "no dense outlier, so nothing to judge"),
    ("antipodal.no_duplicate_pairs", _C, Status.INCONCLUSIVE, "no latent with s > 0.9: nothing to judge"),
)

# tinylm tier. The tiny LM's W_U has no dark subspace: its
# bottom singular values sit near the median under both readings (the wu-spectrum figure), so there is no
# U_{-1} signal for a pair to reconstruct, and its SAEs hold no dense antipodal pair.
_NO_DARK = "the tiny LM's W_U has no dark subspace (its smallest singular values are near the median)"
_NO_PAIR = ("the dense latent nearest U_{-1} is not antipodal to its s-partner, which is not dense, and their "
            f"difference does not track U_{{-1}}: {_NO_DARK}")
_TJ, _TT = TINYLM_JUMPRELU.name, TINYLM_TOPK.name
_TINYLM: tuple[tuple[str, str, Status, str], ...] = (
    ("antipodal.u1_norm_rises_with_depth", _TJ, Status.NOT_REPLICATED,
     f"the final layer's fraction along U_{{-1}} is below an earlier layer's (a property of the LM): {_NO_DARK}"),
    ("antipodal.u1_norm_rises_with_depth", _TT, Status.NOT_REPLICATED,
     f"the final layer's fraction along U_{{-1}} is below an earlier layer's (a property of the LM): {_NO_DARK}"),
    ("antipodal.u1_tracks_entropy", _TJ, Status.NOT_REPLICATED,
     f"the correlation is significant but weak (a property of the LM): {_NO_DARK}"),
    ("antipodal.u1_tracks_entropy", _TT, Status.NOT_REPLICATED,
     f"the correlation is significant but weak (a property of the LM): {_NO_DARK}"),
    ("antipodal.no_duplicate_pairs", _TJ, Status.INCONCLUSIVE, "no latent has s > 0.9: nothing to judge"),
    ("antipodal.no_duplicate_pairs", _TT, Status.INCONCLUSIVE, "no latent has s > 0.9: nothing to judge"),
    ("antipodal.sparse_bulk", _TT, Status.NOT_REPLICATED, "a few more latents than 3% are outliers or dense"),
    ("antipodal.outliers_mostly_dense", _TT, Status.NOT_REPLICATED,
     "TopK's outliers are sparse latents: its dense latents do not read the top PCs"),
    ("antipodal.enc_dec_aligned_when_dense", _TT, Status.INCONCLUSIVE,
     "TopK's dense latents do not read the top PCs: on most seeds no latent is a dense outlier, so nothing to "
     "judge"),
)
for _target in (_TJ, _TT):
    _TINYLM += (
        ("antipodal.dense_are_outliers", _target, Status.NOT_REPLICATED,
         "most dense latents do not read the top residual PCs"),
        ("antipodal.dense_latents_paired", _target, Status.NOT_REPLICATED,
         "no latent with density > 0.3 has s > 0.9: the SAEs hold no antipodal pair"),
        ("antipodal.pc_wu_co_composition", _target, Status.NOT_REPLICATED,
         f"composition with the top PCs does not go with composition with the bottom of W_U: {_NO_DARK}"),
        ("antipodal.pairs_are_antipodal", _target, Status.NOT_REPLICATED, _NO_PAIR),
        ("antipodal.pair_never_coactive", _target, Status.NOT_REPLICATED, _NO_PAIR),
        ("antipodal.pair_diff_tracks_u1", _target, Status.NOT_REPLICATED, _NO_PAIR),
    )

EXPECTATIONS = tuple(Expectation(claim, target, status, reason) for claim, target, status, reason in _TOY + _TINYLM)
