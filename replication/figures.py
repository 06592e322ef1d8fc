"""Report figures: a small registry of figure makers per paper.

A figure maker gets a :class:`FigureInputs` (every record's measured scalars as a pandas DataFrame with one
row per (tier, target, seed) and one column per measured value, and the results directory, under which
analyses that declare ``Analysis.arrays`` saved their per-latent arrays as ``.npz``: see
:func:`saved_arrays`) and a path; it draws with matplotlib and returns ``True``, or ``False`` when the
results it needs are absent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class FigureMaker:
    paper: str
    name: str
    caption: str
    """The paper's figure it mirrors and the exact definitions used."""
    make: Callable[["FigureInputs", Path], bool]


@dataclass(frozen=True)
class FigureInputs:
    frame: pd.DataFrame
    """One row per (tier, target, seed), one column per measured scalar."""
    results_dir: Path


def saved_arrays(inputs: FigureInputs, analysis: str) -> list[tuple[str, str, int | None, dict]]:
    """``(tier, target, seed, arrays)`` of every ``.npz`` an analysis saved, sorted."""
    from replication.results import read_arrays

    out = []
    for path in sorted(Path(inputs.results_dir).glob(f"*/*/_arrays/{analysis}-seed-*.npz")):
        seed_text = path.stem.rsplit("-seed-", 1)[1]
        seed = None if seed_text == "none" else int(seed_text)
        out.append((path.parts[-4], path.parts[-3], seed, read_arrays(path)))
    return out


FIGURES: dict[str, list[FigureMaker]] = {}


def register_figure(maker: FigureMaker) -> FigureMaker:
    makers = FIGURES.setdefault(maker.paper, [])
    if any(m.name == maker.name for m in makers):
        raise ValueError(f"figure {maker.paper}/{maker.name} is registered twice")
    makers.append(maker)
    return maker


def measured_frame(records: list) -> pd.DataFrame:
    """One row per distinct (tier, target, seed) with every measured scalar as a column."""
    rows: dict[tuple, dict] = {}
    for rec in records:
        key = (rec.tier, rec.target, rec.seed)
        rows.setdefault(key, {"tier": rec.tier, "target": rec.target, "seed": rec.seed}).update(rec.measured)
    return pd.DataFrame(list(rows.values()))


def sweep_points(frame: pd.DataFrame, target: str, prefix: str, x: str, y: str) -> list[tuple[int, list, list]]:
    """Per seed, the (x, y) points of a sweep stored as ``{prefix}<label>_{x}`` / ``{prefix}<label>_{y}``."""
    out = []
    for _, row in frame[frame["target"] == target].iterrows():
        labels = sorted({c[len(prefix):-len(x) - 1] for c in frame.columns
                         if c.startswith(prefix) and c.endswith("_" + x)})
        pts = sorted((row[f"{prefix}{lab}_{x}"], row[f"{prefix}{lab}_{y}"]) for lab in labels
                     if pd.notna(row.get(f"{prefix}{lab}_{x}")) and pd.notna(row.get(f"{prefix}{lab}_{y}")))
        if pts:
            out.append((row["seed"], [p[0] for p in pts], [p[1] for p in pts]))
    return out
