"""Report figures of the cross-paper questions, one per question, from the arrays the cross analyses saved.

One panel per (tier, target), its lowest saved seed; a target whose arrays lack what a figure needs gets no
panel, and a figure with no panel is not drawn. Everything that reads U_{-1} is under the processed reading.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from replication.figures import FigureInputs, FigureMaker, draw_panels
from replication.papers.antipodal.analysis import FIGURE_READING

ANALYSIS_GLOB = "cross-*"
_R = FIGURE_READING


def _scatter(ax, x: np.ndarray, y: np.ndarray, label: str, color: str) -> None:
    ax.scatter(x, y, s=3, alpha=0.4, color=color, label=label, rasterized=True)


def _bipolar(ax, a: dict) -> str:
    y = a[f"y_{_R}"]
    _scatter(ax, y, a[f"sagsae_f_best_{_R}"], f"SA-GSAE latent {int(a[f'sagsae_best_{_R}'])} (signed f)", "C2")
    if "jumprelu_diff" in a:
        _scatter(ax, a["jumprelu_y"], a["jumprelu_diff"], "JumpReLU pair f_i − f_j", "C0")
    ax.set_xlabel("x · U_{-1}")
    ax.set_ylabel("activation")
    ax.legend(fontsize=7, markerscale=3)
    return ""


def _alignment(ax, a: dict) -> str:
    scores, low = a["alignment"], a["lower_mode"].astype(bool)
    bins = np.linspace(min(float(scores.min()), 0.0), max(float(scores.max()), 1.05), 40)
    ax.hist(scores[~low], bins=bins, color="C0", alpha=0.7, label="upper mode")
    ax.hist(scores[low], bins=bins, color="C7", alpha=0.7, label="lower mode")
    if f"pair_{_R}" in a:
        for i in a[f"pair_{_R}"].tolist():
            ax.axvline(float(scores[i]), color="C3", lw=1.5)
        ax.plot([], [], color="C3", label="the U_{-1} pair")
    ax.set_xlabel("a_i = W_enc[:, i] · W_dec[i]")
    ax.set_ylabel("latents")
    ax.legend(fontsize=7)
    return ""


def _aligned(ax, a: dict) -> str:
    _scatter(ax, a["aligned_y"], a["aligned_diff"], "aligned TopK pair f_i − f_j", "C1")
    ax.set_xlabel("x · U_{-1}")
    ax.set_ylabel("f_i − f_j")
    ax.legend(fontsize=7, markerscale=3)
    return ""


def _maker(needs: tuple[str, ...], draw: Callable[[object, dict], str],
           suptitle: str) -> Callable[[FigureInputs, Path], bool]:
    return lambda inputs, path: draw_panels(inputs, path, ANALYSIS_GLOB, needs,
                                            lambda ax, tier, target, seed, a: draw(ax, a), suptitle, dpi=110)


FIGURES = (
    FigureMaker(paper="cross", name="bipolar-vs-pair", caption=(
        "cross.bipolar_absorbs_antipodal_pair: the SA-GSAE's dense latent with the largest |Pearson r| with "
        "x · U_{-1} (its signed activation) beside the JumpReLU SAE's U_{-1} pair difference f_i − f_j on the same "
        "data, against x · U_{-1} (processed reading of W_U); the first 5,000 counted tokens, seed 0."),
        make=_maker((f"sagsae_f_best_{_R}", f"y_{_R}"), _bipolar, "SA-GSAE's signed latent vs JumpReLU's antipodal pair")),
    FigureMaker(paper="cross", name="pair-alignment", caption=(
        "cross.dense_pair_in_good_cluster: alignment scores a_i of the JumpReLU SAE (antipodal targets), coloured "
        "by the two-component mixture's mode (posterior > 1/2), with the U_{-1} pair's two latents marked; seed 0."),
        make=_maker(("alignment", "lower_mode"), _alignment, "alignment scores, and where the dense pair sits")),
    FigureMaker(paper="cross", name="aligned-pair", caption=(
        "cross.aligned_keeps_pair: the aligned TopK SAE's U_{-1} pair difference f_i − f_j against x · U_{-1} "
        "(processed reading); the first 5,000 counted tokens, seed 0."),
        make=_maker(("aligned_diff", "aligned_y"), _aligned, "aligned training: the pair difference")),
)
