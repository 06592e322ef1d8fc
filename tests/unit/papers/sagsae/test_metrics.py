"""Instrument tests of the sagsae metrics (replication/metrics/sagsae.py) and toy data (toy_models/sagsae.py)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from replication.metrics.sagsae import (
    bipolar_share,
    dead_fraction_floor,
    geomean_ratio,
    minority_sign_share,
    sign_fire_counts,
)
from toy_models.sagsae import BipolarFeatureToy


def test_sign_counts_and_bipolar_share_on_constructed_acts() -> None:
    # latent 0: +,+,-,- (bipolar); latent 1: +,+,+,0 (one-signed); latent 2: dead; latent 3: 9 +, 1 - (share 0.1)
    f = torch.zeros(10, 4)
    f[:2, 0], f[2:4, 0] = 1.0, -1.0
    f[:3, 1] = 2.0
    f[:9, 3], f[9, 3] = 0.5, -0.5
    counts = sign_fire_counts(f)
    assert counts.positive.tolist() == [2, 3, 0, 9] and counts.negative.tolist() == [2, 0, 0, 1]
    share = minority_sign_share(counts)
    torch.testing.assert_close(share[[0, 1, 3]], torch.tensor([0.5, 0.0, 0.1], dtype=torch.float64),
                               rtol=0, atol=1e-12)
    assert math.isnan(float(share[2]))
    # live latents 0, 1, 3; bipolar at the 0.1 floor: 0 and 3 -> 2/3; at 0.2: only 0 -> 1/3
    assert float(bipolar_share(counts)) == pytest.approx(2 / 3, abs=1e-12)
    assert float(bipolar_share(counts, 0.2)) == pytest.approx(1 / 3, abs=1e-12)


def test_bipolar_share_errors() -> None:
    with pytest.raises(ValueError, match="no latent fires"):
        bipolar_share(sign_fire_counts(torch.zeros(5, 3)))
    with pytest.raises(ValueError, match="min_minority_share"):
        bipolar_share(sign_fire_counts(torch.ones(5, 3)), 0.6)
    with pytest.raises(ValueError, match="non-finite"):
        sign_fire_counts(torch.tensor([[float("nan")]]))
    with pytest.raises(ValueError, match="tokens, d_sae"):
        sign_fire_counts(torch.ones(3))


@given(st.lists(st.floats(-3, 3, allow_nan=False, width=32), min_size=8, max_size=8))
def test_bipolar_share_is_sign_flip_invariant(values) -> None:
    """Property: flipping the sign of any latent leaves its minority share, hence the bipolar share, unchanged."""
    f = torch.tensor(values).reshape(4, 2)
    counts = sign_fire_counts(f)
    flipped = sign_fire_counts(f * torch.tensor([-1.0, 1.0]))
    torch.testing.assert_close(minority_sign_share(flipped), minority_sign_share(counts), rtol=0, atol=0,
                               equal_nan=True)


def test_geomean_ratio_by_hand() -> None:
    # geomean(0.4, 0.1) = 0.2; geomean(0.02, 0.005) = 0.01 -> 20x
    ratio = geomean_ratio(torch.tensor([0.4, 0.1], dtype=torch.float64),
                         torch.tensor([0.02, 0.005], dtype=torch.float64), eps=1e-3)
    assert float(ratio) == pytest.approx(20.0, rel=1e-9)


def test_geomean_ratio_zero_dead_fractions_enter_at_the_floor() -> None:
    eps = dead_fraction_floor(64, 128)
    assert eps == pytest.approx(1 / 256, abs=0)
    # both sweeps without any dead latent: ratio 1, not 0/0
    assert float(geomean_ratio(torch.zeros(4), torch.zeros(4), eps)) == pytest.approx(1.0, abs=1e-12)
    # baseline 2/128 dead at every point, method none: (2/128) / (1/256) = 4
    assert float(geomean_ratio(torch.full((4,), 2 / 128), torch.zeros(4), eps)) == pytest.approx(4.0, rel=1e-9)


def test_geomean_ratio_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        geomean_ratio(torch.tensor([1.5]), torch.tensor([0.1]), 0.01)
    with pytest.raises(ValueError, match="non-empty"):
        geomean_ratio(torch.tensor([]), torch.tensor([0.1]), 0.01)
    with pytest.raises(ValueError, match="eps"):
        geomean_ratio(torch.tensor([0.1]), torch.tensor([0.1]), 0.0)


# ------------------------------------------------------------------------------------------ toy data


def test_bipolar_toy_signs_and_rates() -> None:
    toy = BipolarFeatureToy(d_in=16, n_bipolar=8, n_unipolar=8, firing_prob=0.1, seed=3)
    coeffs = toy.sample_features(40_000, torch.Generator().manual_seed(0))
    bi, uni = coeffs[:, :8], coeffs[:, 8:]
    assert not bool((uni < 0).any())
    # bipolar directions: each sign ~ half of the firings (binomial sd of the share ~0.008 at ~4,000 firings)
    neg_share = (bi < 0).sum(0).double() / (bi != 0).sum(0).double()
    torch.testing.assert_close(neg_share, torch.full((8,), 0.5, dtype=torch.float64), rtol=0, atol=0.05)
    # firing rate p = 0.1 (the magnitude clamp at 0 removes ~3e-5 of firings; sd over 40,000 tokens ~0.0015)
    torch.testing.assert_close((coeffs != 0).double().mean(0), torch.full((16,), 0.1, dtype=torch.float64),
                               rtol=0, atol=0.01)
    # x = coeffs @ directions, with unit directions
    x = toy.sample(5, torch.Generator().manual_seed(1))
    torch.testing.assert_close(x, toy.sample_features(5, torch.Generator().manual_seed(1)) @ toy.directions,
                               rtol=0, atol=0)
    torch.testing.assert_close(toy.directions.norm(dim=1), torch.ones(16), rtol=1e-5, atol=1e-5)
    assert toy.n_directions == 16 and toy.n_concepts == 24


def test_control_toy_has_no_negative_coefficient() -> None:
    toy = BipolarFeatureToy(d_in=16, n_bipolar=0, n_unipolar=32)
    assert not bool((toy.sample_features(5_000, torch.Generator().manual_seed(0)) < 0).any())
    assert toy.config()["n_bipolar"] == 0 and toy.config()["kind"] == "bipolar-features"


def test_toy_is_deterministic_given_the_generator_and_refuses_bad_settings() -> None:
    toy = BipolarFeatureToy()
    a = toy.sample(100, torch.Generator().manual_seed(7))
    b = toy.sample(100, torch.Generator().manual_seed(7))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ValueError, match="firing_prob"):
        BipolarFeatureToy(firing_prob=0.0)
    with pytest.raises(ValueError, match="at least one feature"):
        BipolarFeatureToy(n_bipolar=0, n_unipolar=0)
