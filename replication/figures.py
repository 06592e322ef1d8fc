"""Report figures: the figure-maker type and the helpers the papers' figure modules share.

Each paper's makers are ``replication.papers.<paper>.figures.FIGURES``, collected by the report through
:func:`replication.papers.figure_makers`.

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
from typing import Any

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


def first_seeds(inputs: FigureInputs, analysis: str) -> list[tuple[str, str, int | None, dict]]:
    """:func:`saved_arrays` of ``analysis`` (a glob: ``"antipodal-*"`` matches every tier's analysis), one
    entry per (tier, target): its lowest saved seed. Ordered by tier (toy, tinylm, real), then by the order
    the targets were registered in (so a paper's positive targets come before its control)."""
    from replication.claims import Tier
    from replication.papers import registry

    tiers = [t.value for t in Tier]
    registered = list(registry().targets)
    chosen: dict[tuple[str, str], tuple[str, str, int | None, dict]] = {}
    for tier, target, seed, arrays in saved_arrays(inputs, analysis):
        known = chosen.get((tier, target))
        if known is None or (seed is not None and (known[2] is None or seed < known[2])):
            chosen[(tier, target)] = (tier, target, seed, arrays)

    def order(key: tuple[str, str]) -> tuple[int, int, str]:
        tier, target = key
        return (tiers.index(tier) if tier in tiers else len(tiers),
                registered.index(target) if target in registered else len(registered), target)

    return [chosen[k] for k in sorted(chosen, key=order)]


def panel_title(tier: str, target: str, seed: int | None) -> str:
    """``target (tier, seed s)`` (no seed for pretrained weights), with "negative control" for a control."""
    from replication.papers import registry

    known = registry().targets.get(target)
    control = ", negative control" if known is not None and known.control else ""
    return f"{target}\n({tier}{control}" + (")" if seed is None else f", seed {seed})")


def panel_grid(n: int, width: float = 4.4, height: float = 3.8, max_cols: int = 3):
    """A matplotlib figure with ``n`` panels in rows of at most ``max_cols``; returns (fig, axes list);
    the unused axes of the last row are hidden."""
    import matplotlib.pyplot as plt

    cols = max(1, min(n, max_cols))
    rows = -(-n // cols)
    # at least 6.5 inches wide, so that a one-panel figure still has room for its suptitle
    fig, axes = plt.subplots(rows, cols, figsize=(max(width * cols, 6.5), height * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def draw_panels(inputs: FigureInputs, path: Path, analysis: str, needs: tuple[str, ...],
                draw: Callable[[Any, str, str, int | None, dict], str], suptitle: str, dpi: int = 100) -> bool:
    """One panel per (tier, target) of ``analysis`` (a glob) whose lowest saved seed's arrays hold every key of
    ``needs``; ``draw(ax, tier, target, seed, arrays)`` draws one and returns an extra title line. ``False``
    (nothing drawn) when no target has the arrays."""
    entries = [e for e in first_seeds(inputs, analysis) if all(k in e[3] for k in needs)]
    if not entries:
        return False
    import matplotlib.pyplot as plt

    fig, axes = panel_grid(len(entries))
    for ax, (tier, target, seed, arrays) in zip(axes, entries):
        extra = draw(ax, tier, target, seed, arrays)
        ax.set_title(panel_title(tier, target, seed) + (f"\n{extra}" if extra else ""), fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(suptitle, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return True
