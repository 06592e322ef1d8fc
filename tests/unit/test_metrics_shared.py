"""Shared metrics: known answers on constructed data, and hypothesis properties."""

from __future__ import annotations

import math

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given

from replication.metrics import (
    activation_density,
    ce_loss_recovered,
    compare_sweeps,
    dead_fraction,
    explained_variance,
    fire_counts,
    fvu_pooled,
    l0_per_token,
    mean_l0,
    shrinkage_ratio,
)

seeds = st.integers(min_value=0, max_value=2**31 - 1)


def _acts(seed: int, n: int = 64, d: int = 16, p: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) * (torch.rand(n, d, generator=g) < p)


# --- sparsity -----------------------------------------------------------------------------------------

def test_density_known_answer_with_bos_mask() -> None:
    f = torch.tensor([[9.0, 9.0, 9.0],   # BOS: active everywhere, masked out
                      [1.0, 0.0, 0.0],
                      [0.5, -2.0, 0.0],  # a negative activation counts as active (sign-aware SAEs)
                      [0.0, 0.0, 0.0]])
    mask = torch.tensor([False, True, True, True])
    torch.testing.assert_close(activation_density(f, mask), torch.tensor([2 / 3, 1 / 3, 0.0], dtype=torch.float64))
    torch.testing.assert_close(dead_fraction(activation_density(f, mask)), torch.tensor(1 / 3, dtype=torch.float64))
    assert l0_per_token(f).tolist() == [3, 1, 2, 0]
    torch.testing.assert_close(mean_l0(f), torch.tensor(1.5, dtype=torch.float64))


@given(seed=seeds, split=st.integers(min_value=1, max_value=63))
def test_fire_counts_add_over_batches(seed: int, split: int) -> None:
    f = _acts(seed)
    assert torch.equal(fire_counts(f[:split]) + fire_counts(f[split:]), fire_counts(f))


@given(seed=seeds, scale=st.floats(min_value=1e-3, max_value=1e3))
def test_density_is_scale_invariant_and_bounded(seed: int, scale: float) -> None:
    f = _acts(seed)
    density = activation_density(f)
    assert torch.equal(activation_density(f * scale), density)
    assert bool(((density >= 0) & (density <= 1)).all())
    torch.testing.assert_close(density.sum(), mean_l0(f), rtol=1e-12, atol=1e-12)  # sum of densities = L0


def test_density_errors() -> None:
    with pytest.raises(ValueError, match=r"\(tokens, d_sae\)"):
        activation_density(torch.zeros(3))
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        activation_density(torch.zeros(3, 2), torch.ones(2, dtype=torch.bool))
    with pytest.raises(ValueError, match="zero tokens"):
        activation_density(torch.zeros(3, 2), torch.zeros(3, dtype=torch.bool))


# --- reconstruction -----------------------------------------------------------------------------------

def test_explained_variance_known_answers() -> None:
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    torch.testing.assert_close(explained_variance(x, x), torch.tensor(1.0, dtype=torch.float64))
    # predicting the mean explains nothing
    mean = x.mean(0, keepdim=True).expand_as(x)
    torch.testing.assert_close(explained_variance(x, mean), torch.tensor(0.0, dtype=torch.float64))
    # half the amplitude leaves a quarter of the variance
    torch.testing.assert_close(fvu_pooled(x, x / 2), torch.tensor(0.25, dtype=torch.float64))


@given(seed=seeds, scale=st.floats(min_value=1e-2, max_value=1e2), shift=st.floats(min_value=-10, max_value=10))
def test_fvu_is_invariant_to_scale_and_shift(seed: int, scale: float, shift: float) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 4, generator=g, dtype=torch.float64)
    x_hat = x + 0.3 * torch.randn(32, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(fvu_pooled(scale * x + shift, scale * x_hat + shift), fvu_pooled(x, x_hat),
                               rtol=1e-9, atol=1e-12)


def test_reconstruction_errors() -> None:
    with pytest.raises(ValueError, match="same shape"):
        fvu_pooled(torch.zeros(4, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="zero variance"):
        fvu_pooled(torch.ones(4, 2), torch.zeros(4, 2))


def test_ce_loss_recovered_known_answers() -> None:
    h0, orig = torch.tensor(10.0), torch.tensor(2.0)
    torch.testing.assert_close(ce_loss_recovered(orig, h0, orig), torch.tensor(1.0))
    torch.testing.assert_close(ce_loss_recovered(h0, h0, orig), torch.tensor(0.0))
    torch.testing.assert_close(ce_loss_recovered(torch.tensor(4.0), h0, orig), torch.tensor(0.75))
    with pytest.raises(ValueError, match="H_orig == H_0"):
        ce_loss_recovered(orig, orig, orig)


def test_shrinkage_ratio_known_answers() -> None:
    x = torch.tensor([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])  # the zero-norm token is skipped
    torch.testing.assert_close(shrinkage_ratio(x, 0.5 * x), torch.tensor(0.5, dtype=torch.float64))
    torch.testing.assert_close(shrinkage_ratio(x, x), torch.tensor(1.0, dtype=torch.float64))
    with pytest.raises(ValueError, match="zero-norm"):
        shrinkage_ratio(torch.zeros(2, 2), torch.zeros(2, 2))


# --- Pareto comparison --------------------------------------------------------------------------------

def test_compare_sweeps_known_answer() -> None:
    # A: score = log L0 / 10 + 0.5 on [1, 100]; B: the same minus 0.05 on [10, 1000] -> gap 0.05 on [10, 100]
    l0_a, l0_b = torch.tensor([1.0, 10.0, 100.0]), torch.tensor([10.0, 100.0, 1000.0])
    score = lambda l0: l0.log() / 10 + 0.5  # noqa: E731
    cmp = compare_sweeps(l0_a, score(l0_a), l0_b, score(l0_b) - 0.05)
    torch.testing.assert_close(cmp.l0, torch.tensor([10.0, 100.0], dtype=torch.float64))
    torch.testing.assert_close(cmp.min_gap, torch.tensor(0.05, dtype=torch.float64), rtol=0, atol=1e-7)


def test_compare_sweeps_interpolates_in_log_l0() -> None:
    # A is linear in log L0 between 1 and 100; B is flat 0.5. At L0 = 10 (B's inner point) A is halfway.
    cmp = compare_sweeps(torch.tensor([1.0, 100.0]), torch.tensor([0.0, 1.0]),
                         torch.tensor([2.0, 10.0, 50.0]), torch.tensor([0.5, 0.5, 0.5]))
    gap_at_10 = cmp.gap[torch.isclose(cmp.l0, torch.tensor(10.0, dtype=torch.float64))]
    torch.testing.assert_close(gap_at_10, torch.tensor([0.0], dtype=torch.float64), rtol=0, atol=1e-12)


def test_compare_sweeps_catches_a_dip_at_a_measured_point() -> None:
    cmp = compare_sweeps(torch.tensor([1.0, 5.0, 10.0]), torch.tensor([0.6, 0.4, 0.8]),
                         torch.tensor([1.0, 10.0]), torch.tensor([0.5, 0.7]))
    assert float(cmp.min_gap) < 0 and float(cmp.max_gap) > 0


@given(seed=seeds)
def test_compare_sweeps_is_antisymmetric(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    l0_a, l0_b = torch.rand(4, generator=g) * 10 + 1, torch.rand(5, generator=g) * 10 + 1
    s_a, s_b = torch.rand(4, generator=g), torch.rand(5, generator=g)
    try:
        ab = compare_sweeps(l0_a, s_a, l0_b, s_b)
    except ValueError:
        return  # no overlap drawn: nothing to compare
    ba = compare_sweeps(l0_b, s_b, l0_a, s_a)
    torch.testing.assert_close(ab.gap, -ba.gap, rtol=0, atol=1e-12)
    torch.testing.assert_close(ab.min_gap, -ba.max_gap, rtol=0, atol=1e-12)


@pytest.mark.parametrize("l0_b, match", [
    ([20.0, 30.0], "do not overlap"),
    ([0.0, 5.0], "L0 <= 0"),
    ([5.0], "at least two points"),
    ([5.0, 5.0], "same L0"),
    ([5.0, math.nan], "non-finite"),
])
def test_compare_sweeps_errors(l0_b: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compare_sweeps(torch.tensor([1.0, 10.0]), torch.tensor([0.1, 0.2]),
                       torch.tensor(l0_b), torch.ones(len(l0_b)))


def test_the_dead_latents_point_is_the_strongest_that_still_reconstructs() -> None:
    from replication.metrics import SweepPoint, strongest_reconstructing

    collapsed = SweepPoint("standard", 3.0, 0.03, 0.01, 0.2)  # L0 has collapsed: "dead" is trivially true there
    sweep = [SweepPoint("standard", 0.3, 18.0, 0.85, 0.0), SweepPoint("standard", 1.0, 4.7, 0.62, 0.0), collapsed]
    chosen, n = strongest_reconstructing(sweep)
    assert chosen == sweep[1] and n == 2
    assert strongest_reconstructing([SweepPoint("standard", 1.0, 4.7, 0.45, 0.0), collapsed]) == (None, 0)  # EV < 0.5
    assert strongest_reconstructing([SweepPoint("standard", 1.0, 0.9, 0.9, 0.0)]) == (None, 0)  # L0 < 1


def test_magnitude_ratio_against_the_true_activations() -> None:
    from replication.metrics import magnitude_ratio

    g = torch.Generator().manual_seed(0)
    acts = (torch.rand(500, 8, generator=g) < 0.3) * torch.rand(500, 8, generator=g)
    W_dec = torch.linalg.qr(torch.randn(16, 8, generator=g, dtype=torch.float64))[0].T  # unit rows
    assert float(magnitude_ratio(acts, W_dec, acts)) == pytest.approx(1.0, abs=1e-12)  # exact recovery
    assert float(magnitude_ratio(0.5 * acts, W_dec, acts)) == pytest.approx(0.5, abs=1e-12)  # shrunk by half
    # the scale is the decoder's or the activation's: the ratio does not care which
    assert float(magnitude_ratio(0.5 * acts, 2 * W_dec, acts)) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="no true feature"):
        magnitude_ratio(acts, W_dec, torch.zeros_like(acts))


def test_fire_counts_over_a_stream_equal_those_of_the_whole() -> None:
    from replication.metrics import fire_counts, fire_counts_over

    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, 6, generator=g)
    W = torch.randn(6, 12, generator=g)
    encode = lambda t: torch.relu(t @ W - 1.5)  # noqa: E731
    counts, n = fire_counts_over(encode, x.split(128))
    assert n == 1000 and torch.equal(counts, fire_counts(encode(x)))
    # a latent that fires once, late in the window: alive over the whole window, "dead" on a short one
    x[:, 0] = x[:, 0].clamp(max=2.0)
    x[900, 0] = 5.0
    late = lambda t: torch.cat([encode(t), (t[:, :1] > 3.0).float()], dim=1)  # noqa: E731
    assert int(fire_counts_over(late, x.split(100))[0][-1]) == 1
    assert int(fire_counts(late(x[:16]))[-1]) == 0
    with pytest.raises(ValueError, match="no input rows"):
        fire_counts_over(encode, [])
