"""Instrument tests of the sagsae toy analysis' plumbing (replication/analyses/sagsae.py), without training."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from replication.analyses import sagsae as A


def _point(l0: float, r2: float) -> A.SweepPoint:
    return A.SweepPoint(1.0, 4, l0, r2, 0.0, math.nan, 0, torch.zeros(4), torch.zeros(4))


def test_compare_drops_collapsed_points_and_reads_the_gap() -> None:
    a = (_point(0.0, 0.0), _point(2.0, 0.8), _point(8.0, 0.9))
    b = (_point(2.0, 0.7), _point(8.0, 0.95))
    cmp = A._compare(a, b)
    torch.testing.assert_close(cmp.l0, torch.tensor([2.0, 8.0], dtype=torch.float64), rtol=1e-12, atol=0)
    assert float(cmp.min_gap) == pytest.approx(-0.05, abs=1e-6)
    assert float(cmp.max_gap) == pytest.approx(0.1, abs=1e-6)


def test_targets_and_data() -> None:
    assert A.TOY_UNIPOLAR.control and not A.TOY_BIPOLAR.control
    assert len(A.TOY_BIPOLAR.seeds) >= 3
    bip, uni = A.toy_data(A.TOY_BIPOLAR, 1), A.toy_data(A.TOY_UNIPOLAR, 1)
    assert (bip.n_bipolar, bip.n_directions, uni.n_bipolar, uni.n_directions) == (32, 64, 0, 64)
    # SA-GSAE width = number of directions; Gated at 2H covers every one-signed concept
    assert A.H == bip.n_directions and 2 * A.H >= bip.n_concepts
    with pytest.raises(KeyError, match="known"):
        A.toy_data(dataclasses.replace(A.TOY_BIPOLAR, name="toy-unknown"), 0)


def test_operating_point_is_in_the_sweep() -> None:
    assert A.OPERATING_LAMBDA in A.SAGSAE_LAMBDAS
    assert len(A.SAGSAE_LAMBDAS) >= 4 and len(A.GATED_LAMBDAS) >= 4


def test_claim_metrics_are_provided_once_on_the_toy_tier() -> None:
    from replication.claims import Tier, load_all
    from replication.targets import load_all as load_analyses

    claims, analyses = load_all(), load_analyses()
    for claim in claims.by_paper("sagsae"):
        if Tier.TOY in claim.tiers:
            assert analyses.analysis_for(claim, Tier.TOY) is not None, claim.id
