"""The antipodal and bimodality report figures: drawn from saved arrays and records alone, absent without them.

The arrays and records here are built by hand (small synthetic values, written with the store's own
``write_arrays`` / ``write_record``), so the test checks the rendering path a run recorded on another machine
takes: nothing is trained or measured. Values are made up: this tests plumbing and drawing, not science.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from replication.claims import REGISTRY, Tier, load_all
from replication.figures import FigureInputs, measured_frame
from replication.papers import figure_makers
from replication.results import arrays_path, iter_records, make_record, write_arrays, write_record
from replication.verdict import Measurement, judge

PNG = b"\x89PNG\r\n\x1a\n"
D_SAE, N_TOK = 64, 500


def _antipodal_arrays(rng: np.random.Generator, with_layers: bool) -> dict:
    density = rng.uniform(1e-4, 0.05, D_SAE)
    density[:2] = [0.45, 0.4]  # a dense pair
    density[5] = 0.0  # a latent that never fired: drawn at the floor of the log axis
    z = rng.normal(size=N_TOK)
    out = {
        "density": density, "rho_pc_enc": rng.uniform(0, 0.5, D_SAE), "rho_pc_dec": rng.uniform(0, 0.5, D_SAE),
        "rho_wu_dec": rng.uniform(0, 0.1, D_SAE), "score": rng.uniform(0, 0.4, D_SAE),
        "enc_cos_partner": rng.uniform(-0.6, 0.6, D_SAE), "dec_cos_partner": rng.uniform(-0.6, 0.6, D_SAE),
        "encdec_cos": rng.uniform(0.5, 1.0, D_SAE), "dec_u1": rng.uniform(-1, 1, D_SAE),
        "absmax_enc_cos": rng.uniform(-0.6, 0.6, D_SAE), "absmax_dec_cos": rng.uniform(-0.6, 0.6, D_SAE),
        "spectrum_raw": np.linspace(2.0, 0.05, 16), "spectrum_processed": np.linspace(2.0, 0.02, 15),
        "top_pair": np.array([0, 1]),
        "pair_acts": np.stack([np.maximum(z, 0), np.maximum(-z, 0)], axis=1), "resid_u1": z,
        "entropy": 5.0 - 0.1 * np.abs(z), "pc_variances": np.array([3.0, 1.0]),
        "n_tokens": N_TOK, "n_tokens_saved": N_TOK, "pearson_pair_diff_u1": 1.0, "pearson_u1_entropy": 0.0,
        "k_pc": 2, "k_wu": 1, "dense_threshold": 0.1, "very_dense_threshold": 0.3, "rho_threshold": 0.7,
        "pair_threshold": 0.9,
    }
    for key in ("rho_pc_enc", "rho_pc_dec", "rho_wu_dec"):
        out[key][:2] = 0.95
    out["score"][:2] = 0.99
    if with_layers:
        out["u1_fraction_per_layer"] = np.array([0.05, 0.1, 0.2, 0.6])
    return out


def _bimodality_arrays(rng: np.random.Generator, trained: bool) -> dict:
    a = np.concatenate([rng.normal(0.05, 0.03, D_SAE // 4), rng.normal(0.95, 0.05, D_SAE - D_SAE // 4)])
    density = rng.uniform(0.001, 0.1, D_SAE)
    density[: D_SAE // 8] = 0.0
    out = {"reference_alignment": a, "reference_density": density, "reference_dead": density == 0,
           "reference_low_mode": a < 0.5, "reference_mixture_means": np.array([0.05, 0.95]),
           "reference_mixture_sds": np.array([0.03, 0.05]), "reference_mixture_weights": np.array([0.25, 0.75]),
           "reference_dip_p": 0.001, "reference_bc": 0.8}
    if trained:
        out |= {"reference_mcs": np.clip(a + rng.normal(0, 0.05, D_SAE), 0, 1), "reference_l1": 1.0,
                "aligned_l1": 0.3, "aligned_alignment": np.ones(D_SAE),
                "aligned_density": rng.uniform(0.01, 0.1, D_SAE), "aligned_dead": np.zeros(D_SAE, dtype=bool),
                "checkpoint_alignment": np.stack([a * t for t in (0.3, 0.6, 1.0)]),
                "checkpoint_steps": np.array([100, 200, 300]), "checkpoint_bc": np.array([0.4, 0.5, 0.8]),
                "checkpoint_dip_p": np.array([0.9, 0.2, 0.001])}
    return out


def _bimodality_values(seed: int) -> dict[str, float]:
    """Every scalar the toy analysis records, including the sweeps the Figs 4/5 makers read."""
    from replication.papers.bimodality.analysis import ToyMetrics

    values = dict.fromkeys(ToyMetrics.names(), 0.5)
    for lam, l0 in ((0.25, 30.0), (1.0, 7.0), (2.0, 3.0)):
        values |= {f"standard_{lam:g}_l0": l0 + seed, f"standard_{lam:g}_explained_variance": l0 / 35,
                   f"standard_{lam:g}_dead_fraction": 0.0}
    for lam, l0 in ((0.03, 28.0), (0.3, 12.0), (1.0, 0.0)):  # an L0 of 0 must be dropped from the log axis
        values |= {f"aligned_{lam:g}_l0": l0, f"aligned_{lam:g}_explained_variance": l0 / 30 + 0.05,
                   f"aligned_{lam:g}_dead_fraction": 0.1}
    for k in (2, 16):
        values |= {f"topk_{k}_l0": float(k), f"topk_{k}_explained_variance": 0.4 + k / 40,
                   f"topk_{k}_dead_fraction": 0.8 / k, f"aligned-topk_{k}_l0": float(k),
                   f"aligned-topk_{k}_explained_variance": 0.5 + k / 40, f"aligned-topk_{k}_dead_fraction": 0.0}
    return values


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    load_all()
    root = tmp_path_factory.mktemp("figures") / "results"
    rng = np.random.default_rng(0)
    for target in ("toy-antipodal-jumprelu", "toy-antipodal-control"):
        for seed in (0, 1):
            write_arrays(arrays_path(root, "toy", target, "antipodal-toy", seed),
                         _antipodal_arrays(rng, with_layers=target.endswith("jumprelu")))
    for target, trained in (("toy-power-law", True), ("toy-fresh-init", False)):
        write_arrays(arrays_path(root, "toy", target, "bimodality-toy", 0), _bimodality_arrays(rng, trained))
    for seed in (0, 1):
        m = Measurement(Tier.TOY, "toy-power-law", seed, _bimodality_values(seed), wall_time_s=1.0)
        for claim in REGISTRY.by_paper("bimodality"):
            if set(claim.metrics) <= set(m.values):
                write_record(root, make_record(claim, m, judge(claim, m)))
    return root


def _makers(paper: str) -> tuple:
    return figure_makers()[paper]


EXPECTED = {
    "antipodal": {"fig1a-density-vs-rho", "fig1b-composition", "fig2a-pair-difference", "fig2b-u1-fraction-by-layer",
                  "fig2c-u1-vs-entropy", "fig3-density-vs-score", "fig5a-encdec-cosine", "fig5b-pair-coactivation",
                  "fig5c-partner-cosines"},
    "bimodality": {"fig7-alignment-histograms", "fig2-mcs-vs-alignment", "fig4-ev-vs-l0", "fig5-dead-vs-l0",
                   "fig16-alignment-over-training"},
}


@pytest.mark.parametrize("paper", sorted(EXPECTED))
def test_every_paper_figure_is_registered_with_a_captioned_figure_number(paper: str) -> None:
    makers = {m.name: m for m in _makers(paper)}
    assert EXPECTED[paper] <= set(makers)
    for name in EXPECTED[paper]:
        assert "Fig" in makers[name].caption and len(makers[name].caption) > 80, name


@pytest.mark.parametrize("paper", sorted(EXPECTED))
def test_figures_render_from_saved_arrays_and_records(paper: str, store: Path, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inputs = FigureInputs(measured_frame(iter_records(store)), store)
    for maker in _makers(paper):
        if maker.name not in EXPECTED[paper]:
            continue
        path = tmp_path / f"{maker.name}.png"
        assert maker.make(inputs, path) is True, maker.name
        plt.close("all")
        assert path.read_bytes()[:8] == PNG, maker.name
        assert path.stat().st_size > 10_000, maker.name  # axes, points and text, not an empty canvas


@pytest.mark.parametrize("paper", sorted(EXPECTED))
def test_figures_are_absent_without_their_inputs(paper: str, tmp_path: Path) -> None:
    import pandas as pd

    empty = FigureInputs(pd.DataFrame(), tmp_path)
    for maker in _makers(paper):
        if maker.name in EXPECTED[paper]:
            assert maker.make(empty, tmp_path / f"{maker.name}.png") is False, maker.name
            assert not (tmp_path / f"{maker.name}.png").exists()


def test_per_layer_figure_is_absent_when_no_target_has_layers(tmp_path: Path) -> None:
    import pandas as pd

    root = tmp_path / "results"
    arrays = _antipodal_arrays(np.random.default_rng(1), with_layers=False)
    write_arrays(arrays_path(root, "toy", "toy-antipodal-jumprelu", "antipodal-toy", 0), arrays)
    maker = next(m for m in _makers("antipodal") if m.name == "fig2b-u1-fraction-by-layer")
    assert maker.make(FigureInputs(pd.DataFrame(), root), tmp_path / "fig.png") is False
    fig1a = next(m for m in _makers("antipodal") if m.name == "fig1a-density-vs-rho")
    assert fig1a.make(FigureInputs(pd.DataFrame(), root), tmp_path / "fig1a.png") is True  # no records needed


def test_antipodal_figure_arrays_subsample_tokens_deterministically_and_aligned() -> None:
    from replication.papers.antipodal.analysis import AntipodalArrays, AntipodalSettings, ReadingArrays, figure_arrays

    n, d_sae = 25_000, 8
    t = torch.arange(n, dtype=torch.float64)
    per_latent = torch.linspace(0, 1, d_sae, dtype=torch.float64)
    reading = ReadingArrays(u1=torch.ones(4, dtype=torch.float64), spectrum=torch.linspace(2, 1, 4,
                                                                                           dtype=torch.float64),
                            rho_wu_dec=per_latent, dec_u1=per_latent, pair=(3, 5),
                            pair_acts=torch.stack([2 * t, 3 * t], dim=1), resid_u1=t, u1_fraction_per_layer=None)
    a = AntipodalArrays(
        density=per_latent, rho_pc_enc=per_latent, rho_pc_dec=per_latent, score=per_latent,
        partner=torch.zeros(d_sae, dtype=torch.int64), enc_cos_partner=per_latent, dec_cos_partner=per_latent,
        encdec_cos=per_latent, readings={"processed": reading, "raw": reading._replace(pair=None, pair_acts=None)},
        absmax_enc_cos=per_latent, absmax_dec_cos=per_latent, entropy=-t,
        pc_variances=torch.ones(2, dtype=torch.float64), n_tokens=n, settings=AntipodalSettings(k_pc=2, k_wu=1))
    first, second = figure_arrays(a), figure_arrays(a)
    u = first["resid_u1"].double()
    assert len(u) == 20_000 and first["n_tokens_saved"] == 20_000 and first["n_tokens"] == n
    torch.testing.assert_close(first["resid_u1"], second["resid_u1"], rtol=0, atol=0)  # deterministic
    assert bool((u[1:] > u[:-1]).all())  # kept in stream order, no repeats
    torch.testing.assert_close(first["pair_acts"].double(), torch.stack([2 * u, 3 * u], dim=1), rtol=1e-6, atol=0)
    torch.testing.assert_close(first["entropy"].double(), -u, rtol=1e-6, atol=0)  # the same tokens for all three
    assert "u1_fraction_per_layer" in first and first["u1_fraction_per_layer"] is None  # write_arrays skips None
    # the figures draw the primary reading's pair; both readings' W_U spectra are saved
    assert first["top_pair"].tolist() == [3, 5] and first["density"].dtype == torch.float32
    assert {"spectrum_raw", "spectrum_processed"} <= set(first)
    # Pearson r over ALL tokens: f_i - f_j = -t is exactly anti-correlated with x . U_{-1} = t
    assert first["pearson_pair_diff_u1"] == pytest.approx(-1.0, abs=1e-12)


def test_bimodality_control_arrays_are_the_fresh_init_scores() -> None:
    from replication.papers.bimodality.toy import TOY_FRESH_INIT, _control, measure

    arrays = measure(TOY_FRESH_INIT, 0).arrays
    a = arrays["reference_alignment"]
    assert a.shape == (128,) and arrays["reference_dead"].dtype == torch.bool
    # the same SAE the control's metrics are measured on: its recorded BC is this sample's
    assert arrays["reference_bc"] == pytest.approx(_control(0)["sarle_bimodality_coefficient"], abs=1e-12)


def test_lm_target_arrays_render_every_figure(fixture_dir: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The LM path (real-format fixture: tiny GPT-2 + JumpReLU SAE, no seed, every layer): the arrays the
    real tier's analyses save render the per-layer Fig 2b and the Fig 1 histogram too."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from replication.papers.antipodal.analysis import figure_arrays, measure
    from replication.papers.bimodality.analysis import histogram_arrays
    from replication.papers.antipodal.real import antipodal_lm_inputs
    from replication.papers.bimodality.real import bimodality_lm_arrays
    from replication.lm.load import SAESource
    from replication.lm.spec import LMTargetSpec
    from replication.lm.text import TEXT_ENV, TextSource

    monkeypatch.setenv(TEXT_ENV, str(fixture_dir / "text"))
    spec = LMTargetSpec("tiny-gpt2-fixture", "test fixture", str(fixture_dir / "tiny-model"),
                        SAESource(path=str(fixture_dir / "sae")), "blocks.2.hook_resid_post",
                        text=TextSource(), n_tokens=600, ctx_len=32, batch_size=4, tier=Tier.REAL, needs_gpu=False)
    root = tmp_path / "results"
    write_arrays(arrays_path(root, "real", spec.name, "antipodal-real", None),
                 figure_arrays(measure(antipodal_lm_inputs(spec))))
    write_arrays(arrays_path(root, "real", spec.name, "bimodality-real", None),
                 histogram_arrays(bimodality_lm_arrays(spec), "reference_"))
    inputs = FigureInputs(pd.DataFrame(), root)
    drawn = {}
    for paper in EXPECTED:
        for maker in _makers(paper):
            drawn[maker.name] = maker.make(inputs, tmp_path / f"{maker.name}.png")
            plt.close("all")
    assert all(drawn[name] for name in EXPECTED["antipodal"]), sorted(n for n, ok in drawn.items() if not ok)
    assert drawn["wu-spectrum"] is True  # both readings of W_U, beside the U_{-1} claims
    assert drawn["fig7-alignment-histograms"] is True
    # the toy-only figures (sweeps from records, MCS, snapshots) have nothing to draw here
    assert not any(drawn[n] for n in ("fig2-mcs-vs-alignment", "fig4-ev-vs-l0", "fig5-dead-vs-l0",
                                      "fig16-alignment-over-training")), drawn
