"""Instrument tests of replication.metrics.bimodality on constructed weights and samples with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from replication.metrics.bimodality import (
    SARLE_UNIFORM,
    alignment_scores,
    bimodality,
    dip_test,
    gaussian_mixture_2,
    jaccard,
    max_cosine_similarity,
    pearson,
    rescale_latents,
    sarle_bimodality_coefficient,
)


def _rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------ alignment scores


def test_alignment_scores_of_constructed_weights() -> None:
    # W_dec rows e_0, 2 e_1, e_0 + e_1 (d_in = 2); W_enc columns chosen by hand (sae-lens orientation)
    W_dec = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    W_enc = torch.tensor([[3.0, 5.0, -1.0], [7.0, 0.5, 0.0]])  # column i is the paper's encoder row i
    expected = torch.tensor([3.0, 1.0, -1.0], dtype=torch.float64)  # 3*1+7*0, 5*0+0.5*2, -1*1+0*1
    torch.testing.assert_close(alignment_scores(W_enc, W_dec), expected, rtol=0, atol=1e-12)


def test_alignment_is_diagonal_of_W_dec_W_enc() -> None:
    W_dec = torch.randn(16, 8, generator=_rng())
    W_enc = torch.randn(8, 16, generator=_rng(1))
    torch.testing.assert_close(alignment_scores(W_enc, W_dec), torch.diagonal(W_dec.double() @ W_enc.double()),
                               rtol=1e-12, atol=1e-12)


def test_alignment_is_not_a_cosine() -> None:
    # tied weights of norm 0.1: cosine 1, but a_i = ||W_dec[i]||^2 = 0.01 (sae-lens's heuristic init)
    W_dec = torch.nn.functional.normalize(torch.randn(4, 3, generator=_rng()), dim=1) * 0.1
    torch.testing.assert_close(alignment_scores(W_dec.T, W_dec), torch.full((4,), 0.01, dtype=torch.float64),
                               rtol=0, atol=1e-8)


@given(d_in=st.integers(1, 8), d_sae=st.integers(1, 12), seed=st.integers(0, 2**16),
       log_c=st.lists(st.floats(-2.0, 2.0), min_size=12, max_size=12))
def test_alignment_is_invariant_to_latent_rescaling(d_in: int, d_sae: int, seed: int, log_c: list[float]) -> None:
    """§3.1: a_i is unchanged by W_enc[:, i] * c_i and W_dec[i] / c_i (float32 weights, c in [1e-2, 1e2])."""
    g = _rng(seed)
    W_enc, W_dec = torch.randn(d_in, d_sae, generator=g), torch.randn(d_sae, d_in, generator=g)
    c = torch.tensor(log_c[:d_sae]).exp10() if hasattr(torch.Tensor, "exp10") else 10.0 ** torch.tensor(log_c[:d_sae])
    before = alignment_scores(W_enc, W_dec)
    after = alignment_scores(*rescale_latents(W_enc, W_dec, c))
    # float32 rounding of the two rescaled factors: relative 2^-23 each, times sum |W_enc W_dec| <= ~40 here
    torch.testing.assert_close(after, before, rtol=1e-6, atol=1e-5)


def test_alignment_changes_under_one_sided_rescaling() -> None:
    W_enc, W_dec = torch.randn(4, 6, generator=_rng()), torch.randn(6, 4, generator=_rng(1))
    torch.testing.assert_close(alignment_scores(2 * W_enc, W_dec), 2 * alignment_scores(W_enc, W_dec),
                               rtol=1e-12, atol=1e-12)


def test_alignment_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="sae-lens orientation"):
        alignment_scores(torch.randn(4, 6), torch.randn(4, 6))
    bad = torch.randn(6, 4)
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="W_dec has 1 non-finite"):
        alignment_scores(torch.randn(4, 6), bad)
    with pytest.raises(ValueError, match="positive"):
        rescale_latents(torch.randn(4, 6), torch.randn(6, 4), -torch.ones(6))


# ------------------------------------------------------------------------------------------ bimodality statistics


def test_sarle_matches_scipy_definition() -> None:
    x = torch.randn(500, generator=_rng()).exp()
    n = 500
    g, k = stats.skew(x.numpy(), bias=False), stats.kurtosis(x.numpy(), bias=False)
    expected = (g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
    assert float(sarle_bimodality_coefficient(x)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("sample", "expected", "tol"), [
    # population values: uniform 5/9, normal 1/3; sampling sd of BC at n = 20,000 is < 0.01
    ("uniform", 5 / 9, 0.01),
    ("normal", 1 / 3, 0.01),
    # equal mixture of two point masses (+-1): skew 0, excess kurtosis -2 -> BC = 1 / (-2 + 3) = 1
    ("two_points", 1.0, 0.01),
])
def test_sarle_known_values(sample: str, expected: float, tol: float) -> None:
    g = _rng(3)
    x = {"uniform": torch.rand(20_000, generator=g), "normal": torch.randn(20_000, generator=g),
         "two_points": torch.randint(0, 2, (20_000,), generator=g).float() * 2 - 1}[sample]
    assert float(sarle_bimodality_coefficient(x)) == pytest.approx(expected, abs=tol)


def test_sarle_rejects_constant_sample() -> None:
    with pytest.raises(ValueError, match="constant"):
        sarle_bimodality_coefficient(torch.full((10,), 0.01))


def _two_clusters(n: int = 400, seed: int = 0) -> torch.Tensor:
    """A dead cluster at 0 (30%) and a good cluster at 1 (70%), sd 0.05: the paper's Fig 7 picture."""
    g = _rng(seed)
    n0 = int(0.3 * n)
    return torch.cat([0.05 * torch.randn(n0, generator=g), 1 + 0.05 * torch.randn(n - n0, generator=g)])


def test_dip_test_rejects_unimodality_of_two_clusters() -> None:
    dt = dip_test(_two_clusters())
    assert float(dt.p_value) < 1e-3  # clusters 20 sd apart: the table p-value is 0 to print precision
    assert float(dt.dip) > 0.05


def test_dip_test_keeps_unimodality_of_a_normal_sample() -> None:
    dt = dip_test(torch.randn(400, generator=_rng(1)))
    assert float(dt.p_value) > 0.05


def test_dip_test_of_a_point_mass() -> None:
    dt = dip_test(torch.zeros(50))
    assert float(dt.dip) == pytest.approx(0.0, abs=1e-12)
    assert float(dt.p_value) == pytest.approx(1.0, abs=1e-12)


def test_mixture_locates_both_modes() -> None:
    mix = gaussian_mixture_2(_two_clusters(2000))
    # n = 600 and 1400 points of sd 0.05: the means' standard errors are < 0.003
    torch.testing.assert_close(mix.means, torch.tensor([0.0, 1.0], dtype=torch.float64), rtol=0, atol=0.01)
    torch.testing.assert_close(mix.stds, torch.tensor([0.05, 0.05], dtype=torch.float64), rtol=0, atol=0.01)
    torch.testing.assert_close(mix.weights, torch.tensor([0.3, 0.7], dtype=torch.float64), rtol=0, atol=1e-3)
    assert int(mix.lower.sum()) == 600


def test_mixture_with_a_collapsed_component_stays_finite() -> None:
    x = torch.cat([torch.zeros(100), 1 + 0.05 * torch.randn(100, generator=_rng())])
    mix = gaussian_mixture_2(x)
    assert bool(torch.isfinite(mix.means).all() & torch.isfinite(mix.stds).all())
    assert float(mix.means[0]) == pytest.approx(0.0, abs=1e-6)
    assert int(mix.lower.sum()) == 100


@pytest.mark.parametrize(("name", "bimodal"), [
    ("two_clusters", True),
    ("normal", False),
    ("lognormal", False),  # skewed and heavy-tailed: BC > 5/9 alone would call it bimodal, the dip does not
    ("uniform", False),
])
def test_bimodality_verdict(name: str, bimodal: bool) -> None:
    g = _rng(5)
    x = {"two_clusters": _two_clusters(), "normal": torch.randn(400, generator=g),
         "lognormal": (1.5 * torch.randn(400, generator=g)).exp(), "uniform": torch.rand(400, generator=g)}[name]
    result = bimodality(x)
    if name == "lognormal":
        assert float(result.bc) > SARLE_UNIFORM  # the case the two-statistic rule is for
    assert bool(result.bimodal) is bimodal


# ------------------------------------------------------------------------------------------ MCS, Pearson, Jaccard


def test_mcs_finds_rescaled_copies_and_misses_orthogonal_directions() -> None:
    eye = torch.eye(6)
    A = eye[:3] * torch.tensor([[0.1], [2.0], [5.0]])      # directions e0, e1, e2 with arbitrary norms
    B = torch.cat([eye[[2, 0]] * 3.0, eye[3:]])              # contains e2 and e0, not e1
    torch.testing.assert_close(max_cosine_similarity(A, B), torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64),
                               rtol=0, atol=1e-12)


def test_mcs_of_a_known_angle() -> None:
    A = torch.tensor([[1.0, 0.0]])
    B = torch.tensor([[1.0, 1.0], [-1.0, 0.2]])
    assert float(max_cosine_similarity(A, B)[0]) == pytest.approx(2**-0.5, abs=1e-12)


def test_mcs_rejects_zero_rows_and_dimension_mismatch() -> None:
    with pytest.raises(ValueError, match="zero-norm"):
        max_cosine_similarity(torch.zeros(2, 3), torch.ones(4, 3))
    with pytest.raises(ValueError, match="different d_in"):
        max_cosine_similarity(torch.ones(2, 3), torch.ones(4, 5))


def test_pearson_matches_scipy() -> None:
    x, y = torch.randn(200, generator=_rng()), torch.randn(200, generator=_rng(1))
    y = 0.5 * x + y
    assert float(pearson(x, y)) == pytest.approx(stats.pearsonr(x.numpy(), y.numpy()).statistic, abs=1e-6)
    with pytest.raises(ValueError, match="constant"):
        pearson(x, torch.ones(200))


def test_jaccard() -> None:
    a = torch.tensor([True, True, False, False])
    b = torch.tensor([True, False, True, False])
    assert float(jaccard(a, b)) == pytest.approx(1 / 3, abs=1e-12)
    assert float(jaccard(a, a)) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="two empty sets"):
        jaccard(torch.zeros(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool))


def test_statistics_are_deterministic() -> None:
    x = _two_clusters()
    r1, r2 = bimodality(x), bimodality(x.clone())
    assert float(r1.dip_p) == float(r2.dip_p) and float(r1.bc) == float(r2.bc)
    np.testing.assert_array_equal(r1.mixture.means.numpy(), r2.mixture.means.numpy())
