"""The sagsae report figure: drawn from the records' scalars alone (values made up: plumbing, not science)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from replication.figures import FigureInputs
from replication.papers import figure_makers

PNG = b"\x89PNG\r\n\x1a\n"


def _maker():
    

    (maker,) = [m for m in figure_makers()["sagsae"] if m.name == "r2-and-dead-vs-l0"]
    return maker


def _row(tier: str, target: str, seed: int, shift: float) -> dict:
    row: dict = {"tier": tier, "target": target, "seed": seed}
    for prefix, lams, l0s in (("sagsae_l0-gate_lam", (0.3, 1, 3), (50.0, 30.0, 20.0)), ("gated_lam", (1, 3, 10), (60, 20, 5))):
        for lam, l0 in zip(lams, l0s):
            row[f"{prefix}{lam:g}_l0"] = l0 + shift
            row[f"{prefix}{lam:g}_r2"] = 0.5 + l0 / 200
            row[f"{prefix}{lam:g}_dead_fraction"] = 0.0 if prefix.startswith("sagsae_") else 0.05
    return row


def test_figure_draws_toy_tinylm_and_real_cells(tmp_path: Path) -> None:
    rows = [_row("toy", "toy-sagsae-bipolar", s, s) for s in range(3)]
    rows += [_row("tinylm", "tinylm-sagsae-mlp-out", s, s) for s in range(3)]
    rows += [_row("real", "pythia-1b-sagsae-mlp-out", s, s) for s in range(3)]
    rows[-1]["sagsae_l0-gate_lam3_l0"] = 0.0  # a collapsed point: off the log axis, not an error
    out = tmp_path / "fig.png"
    assert _maker().make(FigureInputs(pd.DataFrame(rows), tmp_path), out)
    assert out.read_bytes()[:8] == PNG


def test_figure_is_absent_without_sagsae_records(tmp_path: Path) -> None:
    frame = pd.DataFrame([{"tier": "toy", "target": "toy-sparse", "seed": 0, "topk_k2_l0": 2.0}])
    assert not _maker().make(FigureInputs(frame, tmp_path), tmp_path / "fig.png")
    assert not _maker().make(FigureInputs(pd.DataFrame(), tmp_path), tmp_path / "fig.png")


def test_figure_knows_every_sagsae_sweep_target() -> None:
    from replication.papers.sagsae import figures as sagsae_figures
    from replication.papers import registry as load_all

    sweep_targets = {t.name for a in load_all().analyses.values()
                     if a.name in ("sagsae-toy", "sagsae-tinylm", "sagsae-real") for t in a.targets}
    assert {name for name, _, _ in sagsae_figures._targets()} == sweep_targets
