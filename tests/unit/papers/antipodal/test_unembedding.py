"""Instrument tests of the two readings of W_U (antipodal §3.2, App A), the pair's choice and the helpers.

``processed`` must be exactly what TransformerLens's default processing makes of W_U (checked against
``HookedTransformer.process_weights_`` on tiny LayerNorm and RMSNorm models), and W_U's built so that the
raw and processed bottom singular vectors differ must give the designed vectors under each reading.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from replication.papers.antipodal.analysis import FinalNorm, unembedding_readings
from replication.metrics.antipodal import (
    bfloat16_shortfall_bound,
    bottom_left_singular_vectors,
    pairwise_scores,
    processed_unembedding,
    rank_fraction,
    u1_pair,
    unembedding_spectrum,
)
from replication.lm.load import final_norm


def _tiny_model(normalization_type: str, seed: int = 0):
    from transformer_lens import HookedTransformer, HookedTransformerConfig

    torch.manual_seed(seed)
    cfg = HookedTransformerConfig(n_layers=1, d_model=16, d_head=4, n_heads=4, d_mlp=32, n_ctx=8, d_vocab=40,
                                  act_fn="gelu", normalization_type=normalization_type, seed=seed)
    model = HookedTransformer(cfg)
    with torch.no_grad():
        model.ln_final.w.copy_(0.5 + torch.rand(16))
        model.unembed.W_U.normal_()
    return model


@pytest.mark.parametrize("normalization_type", ["LN", "RMS"])
def test_processed_reading_is_transformer_lens_default_processing(normalization_type: str) -> None:
    model = _tiny_model(normalization_type)
    reference = copy.deepcopy(model)
    reference.process_weights_(fold_ln=True, center_writing_weights=True, center_unembed=True)
    weight, centred = final_norm(model)
    assert centred is (normalization_type == "LN")
    got = processed_unembedding(model.W_U, weight, centred)
    torch.testing.assert_close(got, reference.W_U.detach().double(), rtol=0, atol=1e-5)


def test_raw_and_processed_bottom_vectors_differ_as_built() -> None:
    # raw W_U: smallest singular value along the all-ones direction (a LayerNorm model's centring removes it
    # altogether), next smallest along u (orthogonal to ones); no gain. Raw U_{-1} is the all-ones direction;
    # processed U_{-1} must be u, once the trivial all-ones direction is excluded
    d, v = 12, 60
    g = torch.Generator().manual_seed(0)
    ones = torch.full((d,), d**-0.5, dtype=torch.float64)
    u = torch.randn(d, generator=g, dtype=torch.float64)
    u = u - (u @ ones) * ones
    u = u / u.norm()
    rest = torch.randn(d, d - 2, generator=g, dtype=torch.float64)
    basis = torch.linalg.qr(torch.cat([ones[:, None], u[:, None], rest], 1))[0]
    sigma = torch.cat([torch.tensor([1e-3, 0.05], dtype=torch.float64), torch.linspace(1.0, 2.0, d - 2, dtype=torch.float64)])
    V = torch.linalg.qr(torch.randn(v, d, generator=g, dtype=torch.float64))[0]
    # V's columns orthogonal to the vocabulary's ones vector, so that centring over the vocabulary is a no-op
    V = V - V.mean(0, keepdim=True)
    V = torch.linalg.qr(V)[0]
    W_U = (basis * sigma) @ V.T
    readings = unembedding_readings(W_U, FinalNorm(None, centred=True), k_wu=1)
    assert abs(float(readings["raw"].U[:, -1] @ basis[:, 0])) == pytest.approx(1.0, abs=1e-9)  # +-ones
    assert abs(float(readings["processed"].U[:, -1] @ u)) == pytest.approx(1.0, abs=1e-9)
    assert float(readings["processed"].S[-1]) == pytest.approx(0.05, rel=1e-9)
    assert len(readings["processed"].spectrum) == d - 1  # the excluded direction is not a singular value


def test_a_final_norm_gain_moves_the_bottom_vector() -> None:
    # raw: bottom along e_0 (0.1) and e_1 next (0.2); a gain of 0.1 on e_1 makes e_1 the processed bottom
    d = 6
    W_U = torch.cat([torch.diag(torch.tensor([0.1, 0.2, 1.0, 1.1, 1.2, 1.3], dtype=torch.float64)),
                     torch.zeros(d, 4, dtype=torch.float64)], 1)
    W_U = W_U - W_U.mean(1, keepdim=True)  # already centred over the vocabulary
    gain = torch.tensor([1.0, 0.1, 1.0, 1.0, 1.0, 1.0])
    readings = unembedding_readings(W_U, FinalNorm(gain, centred=False), k_wu=1)
    raw, processed = readings["raw"].U[:, -1], readings["processed"].U[:, -1]
    assert int(raw.abs().argmax()) == 0 and int(processed.abs().argmax()) == 1


def test_exclusion_and_spectrum_match_a_full_svd() -> None:
    g = torch.Generator().manual_seed(3)
    W_U = torch.randn(10, 50, generator=g, dtype=torch.float64)
    spec = unembedding_spectrum(W_U, 3)
    torch.testing.assert_close(spec.spectrum, torch.linalg.svdvals(W_U), rtol=1e-10, atol=0)
    e = torch.randn(10, generator=g, dtype=torch.float64)
    e = e / e.norm()
    P = torch.eye(10, dtype=torch.float64) - torch.outer(e, e)
    ex = bottom_left_singular_vectors(W_U, 3, exclude=e)
    assert float((ex.U.T @ e).abs().max()) < 1e-10  # every vector orthogonal to the excluded one
    ref = torch.linalg.svd(P @ W_U, full_matrices=False)  # its smallest value is the excluded direction's 0
    torch.testing.assert_close(ex.S, ref.S[-4:-1], rtol=1e-9, atol=0)
    with pytest.raises(ValueError, match="unit vector"):
        bottom_left_singular_vectors(W_U, 1, exclude=2 * e)


def test_rank_fraction_and_u1_pair() -> None:
    torch.testing.assert_close(rank_fraction(torch.tensor([0.3, 0.1, 0.3, 0.9])),
                               torch.tensor([1 / 3, 0.0, 1 / 3, 1.0], dtype=torch.float64))
    abs_cos = torch.tensor([0.99, 0.5, 0.98, 0.1])
    density = torch.tensor([0.01, 0.5, 0.3, 0.9])
    partner = torch.tensor([1, 0, 3, 2])
    assert u1_pair(abs_cos, density, partner, 0.1) == (2, 3)  # latent 0 is nearer U_{-1} but sparse
    assert u1_pair(abs_cos, torch.zeros(4), partner, 0.1) is None


@given(d_in=st.integers(24, 33), clusters=st.integers(50, 100), noise=st.floats(0.2, 0.25), seed=st.integers(0, 99))
def test_bfloat16_shortfall_is_within_the_rigorous_bound(d_in: int, clusters: int, noise: float, seed: int) -> None:
    # clustered near-antipodes (each anchor with 3 noisy antipodes): where bfloat16's choices differ most
    g = torch.Generator().manual_seed(seed)
    anchors_enc, anchors_dec = torch.randn(clusters, d_in, generator=g), torch.randn(clusters, d_in, generator=g)
    signs = torch.tensor([1.0, -1.0, -1.0, -1.0])
    def spread(anchors: torch.Tensor) -> torch.Tensor:
        return (signs[None, :, None] * anchors[:, None] + noise * torch.randn(clusters, 4, d_in, generator=g)).flatten(0, 1)

    enc, dec = spread(anchors_enc), spread(anchors_dec)
    exact = pairwise_scores(enc.T.contiguous(), dec, chunk_size=64)
    fast = pairwise_scores(enc.T.contiguous(), dec, chunk_size=64, dtype=torch.bfloat16)
    shortfall = exact.score - fast.score
    assert float(shortfall.min()) >= -1e-6
    assert float(shortfall.max()) <= bfloat16_shortfall_bound(d_in)


def test_the_rigorous_bound_is_the_documented_number() -> None:
    assert bfloat16_shortfall_bound(64) == pytest.approx(14 * 2**-8, rel=0.02)
    assert bfloat16_shortfall_bound(64) > 2**-7 > 0
    assert math.isfinite(bfloat16_shortfall_bound(4096))


@pytest.mark.parametrize("centred", [True, False])
def test_the_gram_domain_processed_spectrum_is_that_of_the_processed_matrix(centred: bool) -> None:
    # the analysis never materialises the processed W_U; its Gram-domain spectrum must be the matrix's
    g = torch.Generator().manual_seed(4)
    W_U = torch.randn(9, 70, generator=g, dtype=torch.float64) + 0.3
    gain = 0.5 + torch.rand(9, generator=g, dtype=torch.float64)
    ones = torch.full((9,), 9**-0.5, dtype=torch.float64)
    exclude = ones if centred else None
    ref = unembedding_spectrum(processed_unembedding(W_U, gain, centred), 3, exclude=exclude)
    got = unembedding_spectrum(W_U, 3, vocab_chunk=16, processed=(gain, centred), exclude=exclude)
    torch.testing.assert_close(got.spectrum, ref.spectrum, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(got.U.abs(), ref.U.abs(), rtol=0, atol=1e-9)  # up to sign
