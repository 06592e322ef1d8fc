"""Instrument tests of replication.metrics.antipodal: known answers, dense references, properties, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given
from hypothesis import strategies as st

from replication.metrics.antipodal import (
    add_moments,
    bottom_left_singular_vectors,
    coactivation_rate,
    composition,
    covariance,
    depth_trend,
    encoder_decoder_cosine,
    fraction_where,
    moment_sums,
    norm_fraction_along,
    output_entropy,
    pairwise_scores,
    pearson,
    projection,
    spearman,
    top_principal_components,
)


def _weights(seed: int, d_in: int, d_sae: int, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(d_in, d_sae, generator=g, dtype=dtype), torch.randn(d_sae, d_in, generator=g, dtype=dtype))


def _dense_reference(W_enc: torch.Tensor, W_dec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """s and its argmax from the full d_sae x d_sae matrices (the definition of §3.3, no chunking)."""
    e = W_enc.T / W_enc.T.norm(dim=1, keepdim=True)
    d = W_dec / W_dec.norm(dim=1, keepdim=True)
    prod = (e @ e.T) * (d @ d.T)
    prod.fill_diagonal_(-math.inf)
    return prod.max(dim=1)


_shapes = st.tuples(st.integers(0, 10_000), st.integers(2, 12), st.integers(2, 40), st.integers(1, 50))


# ------------------------------------------------------------------------------------ pairwise score

@given(_shapes)
def test_chunked_pairwise_score_equals_the_dense_reference(args) -> None:
    seed, d_in, d_sae, chunk = args
    W_enc, W_dec = _weights(seed, d_in, d_sae)
    got = pairwise_scores(W_enc, W_dec, chunk_size=chunk)
    score, partner = _dense_reference(W_enc, W_dec)
    torch.testing.assert_close(got.score, score, rtol=0, atol=1e-12)  # float64: same products
    assert torch.equal(got.partner, partner)
    torch.testing.assert_close(got.enc_cos * got.dec_cos, got.score, rtol=0, atol=1e-12)


@given(_shapes)
def test_pairwise_score_lies_in_minus_one_one(args) -> None:
    seed, d_in, d_sae, chunk = args
    W_enc, W_dec = _weights(seed, d_in, d_sae, dtype=torch.float32)
    s = pairwise_scores(W_enc, W_dec, chunk_size=chunk).score
    assert bool(((s >= -1.0) & (s <= 1.0)).all())


@given(_shapes, st.floats(0.01, 100.0), st.floats(0.01, 100.0))
def test_exact_antipodes_score_one_for_both(args, a: float, b: float) -> None:
    seed, d_in, d_sae, chunk = args
    W_enc, W_dec = _weights(seed, d_in, d_sae)
    W_enc[:, 1] = -a * W_enc[:, 0]
    W_dec[1] = -b * W_dec[0]
    got = pairwise_scores(W_enc, W_dec, chunk_size=chunk)
    torch.testing.assert_close(got.score[:2], torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(got.enc_cos[:2], -torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-12)
    assert got.partner[:2].tolist() == [1, 0]


@given(_shapes, st.integers(0, 39), st.floats(1e-3, 1e3), st.floats(1e-3, 1e3))
def test_pairwise_score_is_invariant_to_positive_rescaling_of_a_latent(args, which: int, a: float, b: float) -> None:
    seed, d_in, d_sae, chunk = args
    W_enc, W_dec = _weights(seed, d_in, d_sae)
    m = which % d_sae
    before = pairwise_scores(W_enc, W_dec, chunk_size=chunk)
    W_enc[:, m] *= a
    W_dec[m] *= b
    after = pairwise_scores(W_enc, W_dec, chunk_size=chunk)
    torch.testing.assert_close(after.score, before.score, rtol=0, atol=1e-12)
    torch.testing.assert_close(encoder_decoder_cosine(W_enc, W_dec)[m],
                               (W_enc[:, m] @ W_dec[m]) / (W_enc[:, m].norm() * W_dec[m].norm()), rtol=0, atol=1e-12)


def test_pairwise_score_of_hand_built_latents() -> None:
    # enc and dec along e0, e1, -e0, (e0 + e1)/sqrt2: cosines known in closed form
    e = torch.eye(3, dtype=torch.float64)
    W = torch.stack([e[0], e[1], -e[0], (e[0] + e[1]) / math.sqrt(2)])
    got = pairwise_scores(W.T.clone(), W.clone(), chunk_size=3)
    # latent 0: partners -e0 (cos -1 -> product 1); latent 3: best is e0 or e1 (cos 1/sqrt2 -> product 1/2)
    torch.testing.assert_close(got.score, torch.tensor([1.0, 0.5, 1.0, 0.5], dtype=torch.float64), rtol=0, atol=1e-12)
    assert got.partner.tolist() == [2, 3, 0, 0]


def test_pairwise_score_errors_name_the_problem() -> None:
    W_enc, W_dec = _weights(0, 4, 6)
    with pytest.raises(ValueError, match="sae-lens layouts"):
        pairwise_scores(W_dec, W_dec)
    bad = W_dec.clone()
    bad[3] = 0
    with pytest.raises(ValueError, match=r"zero-norm vectors at latent indices \[3\]"):
        pairwise_scores(W_enc, bad)
    nan = W_enc.clone()
    nan[0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        pairwise_scores(nan, W_dec)


# ----------------------------------------------------------------------------- PCs and composition

@given(st.integers(0, 10_000), st.integers(2, 8), st.integers(1, 5))
def test_streamed_covariance_equals_numpy(seed: int, d: int, n_batches: int) -> None:
    g = torch.Generator().manual_seed(seed)
    batches = [torch.randn(int(torch.randint(1, 30, (1,), generator=g)), d, generator=g) * 3 + 5
               for _ in range(n_batches)]
    masks = [torch.rand(len(b), generator=g) < 0.8 for b in batches]
    sums = moment_sums(batches[0], masks[0])
    for b, m in zip(batches[1:], masks[1:]):
        sums = add_moments(sums, moment_sums(b, m))
    kept = torch.cat([b[m] for b, m in zip(batches, masks)]).to(torch.float64)
    if len(kept) < 2:
        with pytest.raises(ValueError, match="at least 2 tokens"):
            covariance(sums)
        return
    np.testing.assert_allclose(covariance(sums).numpy(), np.atleast_2d(np.cov(kept.numpy().T)), rtol=1e-9, atol=1e-9)


def test_top_principal_components_find_the_planted_directions() -> None:
    # variance 9 along e2, 4 along e0, 1e-2 elsewhere: PCs are +-e2 then +-e0 with those variances
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20_000, 5, generator=g, dtype=torch.float64) * torch.tensor([2.0, 0.1, 3.0, 0.1, 0.1],
                                                                                 dtype=torch.float64)
    pcs = top_principal_components(moment_sums(x), 2)
    torch.testing.assert_close(pcs.components.abs(), torch.eye(5, dtype=torch.float64)[[2, 0]], rtol=0, atol=0.02)
    torch.testing.assert_close(pcs.variances, torch.tensor([9.0, 4.0], dtype=torch.float64), rtol=0.05, atol=0)


@given(st.integers(0, 10_000), st.integers(2, 10), st.integers(1, 10))
def test_composition_is_a_norm_fraction(seed: int, d: int, k: int) -> None:
    k = min(k, d)
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))[0].T[:k]
    w = torch.randn(7, d, generator=g, dtype=torch.float64)
    rho = composition(w, basis)
    assert bool(((rho >= 0) & (rho <= 1)).all())
    torch.testing.assert_close(rho, (w @ basis.T).norm(dim=1) / w.norm(dim=1), rtol=0, atol=1e-12)
    # a vector in the span has rho 1, one in the orthogonal complement rho 0, at any positive scale
    inside, outside = 3.7 * basis[0], torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))[0][:, 0]
    outside = outside - basis.T @ (basis @ outside)
    torch.testing.assert_close(composition(inside[None], basis), torch.ones(1, dtype=torch.float64), rtol=0, atol=1e-12)
    if k < d:
        torch.testing.assert_close(composition(outside[None], basis), torch.zeros(1, dtype=torch.float64),
                                   rtol=0, atol=1e-7)


def test_composition_rejects_a_non_orthonormal_basis_and_zero_rows() -> None:
    with pytest.raises(ValueError, match="orthonormal"):
        composition(torch.ones(2, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="zero-norm"):
        composition(torch.zeros(2, 3), torch.eye(3)[:1])


# ------------------------------------------------------------------------------------------- W_U

@given(st.integers(0, 10_000), st.integers(2, 10), st.integers(0, 20), st.integers(1, 4))
def test_bottom_singular_vectors_match_torch_svd_up_to_sign(seed: int, d_model: int, extra: int, k: int) -> None:
    k = min(k, d_model)
    g = torch.Generator().manual_seed(seed)
    W_U = torch.randn(d_model, d_model + extra, generator=g, dtype=torch.float64)
    got = bottom_left_singular_vectors(W_U, k, vocab_chunk=3)
    U, S, _ = torch.linalg.svd(W_U, full_matrices=False)
    torch.testing.assert_close(got.S, S[-k:], rtol=1e-6, atol=1e-8)
    # equal up to the sign of each column (singular vectors of distinct singular values)
    signs = torch.sign((got.U * U[:, -k:]).sum(0))
    torch.testing.assert_close(got.U * signs, U[:, -k:], rtol=0, atol=1e-6)


def test_bottom_singular_vector_of_a_planted_dark_direction() -> None:
    g = torch.Generator().manual_seed(1)
    u = torch.tensor([1.0, -1.0, 0.0, 0.0], dtype=torch.float64) / math.sqrt(2)
    R = torch.linalg.qr(torch.randn(9, 4, generator=g, dtype=torch.float64))[0].T  # orthonormal rows
    W_U = (torch.eye(4, dtype=torch.float64) - 0.99 * torch.outer(u, u)) @ R  # sigma 1, 1, 1, 0.01
    got = bottom_left_singular_vectors(W_U, 1)
    torch.testing.assert_close(got.U[:, -1].abs(), u.abs(), rtol=0, atol=1e-9)
    torch.testing.assert_close(got.S, torch.tensor([0.01], dtype=torch.float64), rtol=1e-6, atol=0)


def test_transposed_W_U_is_refused() -> None:
    with pytest.raises(ValueError, match="transposed"):
        bottom_left_singular_vectors(torch.randn(10, 4), 1)


# ------------------------------------------------------------------------------- per-token signals

def test_coactivation_rate_counts_tokens_where_both_fire() -> None:
    f_i = torch.tensor([0.0, 1.0, 2.0, 0.0, 3.0])
    f_j = torch.tensor([1.0, 0.0, 2.0, 0.0, 1.0])
    assert float(coactivation_rate(f_i, f_j)) == pytest.approx(2 / 5, abs=1e-12)


def test_output_entropy_of_uniform_and_peaked_logits() -> None:
    logits = torch.tensor([[0.0] * 8, [100.0] + [0.0] * 7])
    h = output_entropy(logits)
    assert float(h[0]) == pytest.approx(math.log(8), abs=1e-6)
    assert float(h[1]) == pytest.approx(0.0, abs=1e-6)
    p = torch.softmax(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), 0)
    assert float(output_entropy(torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64))[0]) == pytest.approx(
        float(-(p * p.log()).sum()), abs=1e-12)


def test_projection_and_norm_fraction() -> None:
    u = torch.tensor([0.6, 0.8])
    x = torch.tensor([[3.0, 4.0], [4.0, -3.0], [-6.0, -8.0]])
    torch.testing.assert_close(projection(x, u), torch.tensor([5.0, 0.0, -10.0]), rtol=0, atol=1e-6)
    torch.testing.assert_close(norm_fraction_along(x, u), torch.tensor([1.0, 0.0, 1.0]), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="unit vector"):
        projection(x, 2 * u)


# ------------------------------------------------------------------------------------- statistics

def test_correlations_are_scipys() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(50, generator=g)
    y = x + torch.randn(50, generator=g)
    ref_p, ref_s = scipy.stats.pearsonr(x.numpy(), y.numpy()), scipy.stats.spearmanr(x.numpy(), y.numpy())
    assert pearson(x, y).statistic == pytest.approx(float(ref_p.statistic), abs=1e-6)
    assert pearson(x, y).pvalue == pytest.approx(float(ref_p.pvalue), rel=1e-5, abs=0)
    assert spearman(x, y).statistic == pytest.approx(float(ref_s.statistic), abs=1e-12)
    with pytest.raises(ValueError, match="constant"):
        pearson(torch.ones(5), y[:5])


def test_fraction_where_and_empty_sets() -> None:
    a = torch.tensor([True, False, True, True])
    among = torch.tensor([True, True, False, True])
    assert float(fraction_where(a, among)) == pytest.approx(2 / 3, abs=1e-12)
    assert float(fraction_where(a, torch.zeros(4, dtype=torch.bool))) == 0.0


def test_depth_trend_of_a_rising_profile() -> None:
    trend = depth_trend(torch.tensor([0.01, 0.02, 0.015, 0.03, 0.2], dtype=torch.float64))
    assert trend.final_minus_max_earlier == pytest.approx(0.17, abs=1e-9)
    assert trend.spearman.statistic == pytest.approx(0.9, abs=1e-12)  # one swapped pair of 5: 1 - 6*2/120
    falling = depth_trend(torch.tensor([0.3, 0.2, 0.1], dtype=torch.float64))
    assert falling.final_minus_max_earlier == pytest.approx(-0.2, abs=1e-9)
