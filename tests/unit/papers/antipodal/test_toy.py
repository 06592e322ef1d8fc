"""The antipodal toy data set plants what it says: u = U_{-1} of W_U, a dense signal along u only when asked."""

from __future__ import annotations

import pytest
import torch

from replication.metrics.antipodal import bottom_left_singular_vectors
from toy_models import AntipodalToy


def test_u_is_the_bottom_left_singular_vector_of_W_U_and_orthogonal_to_ones() -> None:
    data = AntipodalToy(seed=3)
    bottom = bottom_left_singular_vectors(data.W_U.double(), 1)
    assert float((bottom.U[:, -1] @ data.u.double()).abs()) == pytest.approx(1.0, abs=1e-6)
    assert float(bottom.S[-1]) == pytest.approx(data.dark_singular_value, rel=1e-4)
    assert float(data.u.sum()) == pytest.approx(0.0, abs=1e-6)  # LayerNorm's centring keeps u
    torch.testing.assert_close(data.directions @ data.u, torch.zeros(data.n_features), rtol=0, atol=1e-6)


def test_dense_signal_only_in_the_positive_data() -> None:
    n = 20_000
    pos = AntipodalToy(seed=0).sample(n, torch.Generator().manual_seed(0))
    ctl = AntipodalToy(seed=0, dense=False).sample(n, torch.Generator().manual_seed(0))
    u = AntipodalToy(seed=0).u
    # along u: N(0.5, 1) plus noise of std 0.05, vs noise alone (sampling error ~ 1/sqrt(n) = 0.007)
    assert float((pos @ u).mean()) == pytest.approx(0.5, abs=0.03)
    assert float((pos @ u).std()) == pytest.approx((1 + 0.05**2) ** 0.5, abs=0.03)
    assert float((ctl @ u).std()) == pytest.approx(0.05, abs=0.003)


def test_samples_are_deterministic_given_the_generator() -> None:
    data = AntipodalToy(seed=1)
    a = data.sample(64, torch.Generator().manual_seed(5))
    b = data.sample(64, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert data.config()["dense"] is True and AntipodalToy(dense=False).config()["dense"] is False
