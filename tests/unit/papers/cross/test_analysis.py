"""Instrument tests of the cross questions' measurement (replication/papers/cross/analysis.py) on constructed
SAEs with a known answer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from replication.lm.hooks import ActivationBatch
from replication.papers.antipodal.analysis import READINGS, AntipodalSettings, FinalNorm, StreamInputs, \
    unembedding_readings
from replication.papers.cross.analysis import bipolar, good_cluster, pair_metrics, signed_stats

D, V, N = 8, 24, 4096


class _SAE:
    """A linear 'SAE' whose codes are given directly: f = x @ W_enc (signed), no bias."""

    def __init__(self, W_enc: torch.Tensor, W_dec: torch.Tensor):
        self.W_enc, self.W_dec = W_enc, W_dec

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W_enc


def _inputs(sae: _SAE) -> tuple[StreamInputs, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    W_U = torch.randn(D, V, generator=g)
    u1 = unembedding_readings(W_U, FinalNorm(None, centred=False), 1)["raw"].U[:, -1].float()
    x = torch.randn(N, D, generator=g)

    def stream():
        for chunk in x.split(1024):
            yield ActivationBatch(chunk, torch.ones(len(chunk), dtype=torch.bool))

    return StreamInputs(sae, W_U, AntipodalSettings(k_pc=1, k_wu=1), stream, FinalNorm(None, centred=False)), u1


def test_a_signed_latent_along_u1_has_correlation_one_and_an_orthogonal_one_none() -> None:
    g = torch.Generator().manual_seed(1)
    W_U_probe, u1 = _inputs(_SAE(torch.zeros(D, 2), torch.eye(2, D)))
    other = torch.randn(D, generator=g)
    other -= (other @ u1) * u1  # orthogonal to U_{-1}: uncorrelated with x . U_{-1} for isotropic x
    W_enc = torch.stack([u1, other / other.norm()], dim=1)
    inputs, _ = _inputs(_SAE(W_enc, W_enc.T.clone()))
    stats = signed_stats(inputs)
    assert float(stats.corr["raw"][0].abs()) == pytest.approx(1.0, abs=1e-9)  # the latent reads the raw U_{-1}
    assert float(stats.corr["raw"][1].abs()) < 0.05
    assert set(stats.corr) == set(READINGS)
    torch.testing.assert_close(stats.density, torch.ones(2, dtype=torch.float64))  # active on every token


def test_bipolar_counts_dense_pairs_and_reads_the_best_latent() -> None:
    _, u1 = _inputs(_SAE(torch.zeros(D, 2), torch.eye(2, D)))
    spare = torch.nn.functional.normalize(torch.ones(D), dim=0)
    # one bipolar latent, and a second dense one along another direction: no pair (s = |cos|^2 < 0.9)
    one = _SAE(torch.stack([u1, spare], dim=1), torch.stack([u1, spare]))
    out, _ = bipolar(_inputs(one)[0])
    assert out["sagsae_n_dense_paired"] == 0.0 and out["sagsae_n_dense"] == 2.0
    assert out["sagsae_max_dense_abs_corr_u1@raw"] == pytest.approx(1.0, abs=1e-9)
    W = torch.stack([u1, -u1], dim=1)  # an antipodal pair of dense latents: s = 1, both dense
    two = _SAE(W, W.T.clone())
    out, _ = bipolar(_inputs(two)[0])
    assert out["sagsae_n_dense_paired"] == 2.0


def _bimodal_sae(d_sae: int = 200) -> _SAE:
    """a_i near 0.05 for the first half, near 1 for the second (two modes)."""
    g = torch.Generator().manual_seed(2)
    W_dec = torch.nn.functional.normalize(torch.randn(d_sae, D, generator=g), dim=1)
    scale = torch.where(torch.arange(d_sae) < d_sae // 2, 0.05, 1.0) * (1 + 0.02 * torch.randn(d_sae, generator=g))
    return _SAE((W_dec * scale[:, None]).T.contiguous(), W_dec)


def test_good_cluster_says_where_the_pair_sits() -> None:
    sae = _bimodal_sae()
    summary = {f"{m}@{r}": 1.0 for m in ("u1_pair_s", "u1_pair_max_cosine", "u1_pair_min_density") for r in READINGS}
    upper = SimpleNamespace(readings={r: SimpleNamespace(pair=(150, 151)) for r in READINGS})
    out, arrays = good_cluster(upper, summary, sae)
    assert out["sae_dip_test_p"] < 0.05 and out["sae_upper_mode"] == pytest.approx(1.0, abs=0.05)
    assert all(out[f"pair_in_upper_mode@{r}"] == 1.0 for r in READINGS)
    lower = SimpleNamespace(readings={r: SimpleNamespace(pair=(3, 151)) for r in READINGS})
    out, _ = good_cluster(lower, summary, sae)
    assert all(out[f"pair_in_upper_mode@{r}"] == 0.0 for r in READINGS)
    nopair = SimpleNamespace(readings={r: SimpleNamespace(pair=None) for r in READINGS})
    out, _ = good_cluster(nopair, summary, sae)
    assert all(out[f"pair_in_upper_mode@{r}"] == 0.0 and out[f"pair_alignment_min@{r}"] == 0.0 for r in READINGS)
    assert arrays["alignment"].shape == (200,)


def test_pair_metrics_are_renamed_per_sae() -> None:
    summary = {f"{m}@{r}": float(i) for i, m in enumerate(("u1_pair_s", "u1_pair_max_cosine", "u1_pair_min_density",
                                                          "abs_corr_u1_pair_diff")) for r in READINGS}
    out = pair_metrics(summary, "topk")
    assert out["topk_u1_pair_s@processed"] == 0.0 and out["topk_abs_corr_u1_pair_diff@raw"] == 3.0
