"""Report figures of the antipodal paper, drawn from the arrays the antipodal analyses saved.

Every figure reads only the ``.npz`` the runner wrote from :func:`replication.papers.antipodal.analysis.figure_arrays`
(and, for the titles, the measured scalars of the records), so a run recorded on another machine renders the
same figures. One panel per (tier, target), seed 0 only (the lowest saved seed; the other seeds are in the
claims' table). A target whose arrays lack what a figure needs (e.g. no per-layer fractions on the toy tier)
gets no panel; a figure with no panel is not drawn (its maker returns ``False``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from replication.figures import FigureInputs, FigureMaker, draw_panels
from replication.papers.antipodal.analysis import FIGURE_READING

ANALYSIS_GLOB = "antipodal-*"
"""Every tier's antipodal analysis (``antipodal-toy``, ``antipodal-tinylm``, ``antipodal-real``)."""

Measured = Callable[[str], "float | None"]
"""A measured scalar of the panel's (tier, target, seed) from the records, or ``None``."""

_SEED = "One panel per target, seed 0 only (all seeds are in the table below)."
_DENSITY = ("Density: fraction of counted tokens with f_i > 0 (BOS and padding excluded on LM targets; every "
            "synthetic token counts on the toy tier); latents that never fired are drawn at 0.5/n_tokens (▽).")
_RHO = ("ρ_k(w) = ||P_k w|| / ||w||, P_k the projection on the top k principal components of the SAE's input "
        "over the same tokens (§3.1, Eq. 1, as a norm fraction); k = 300 on real models, on smaller ones the "
        "same fraction of d_model (300/2304: k = 4 of 32 on the toy).")
_U1 = ("U_{-1}: the left singular vector of W_U (d_model × d_vocab) with the smallest singular value (sign "
       "arbitrary).")
_WU = ("The bottom-W_U composition is ρ over U_{-k}..U_{-1}, k = 10 on real models, 10/2304 of d_model on "
       "smaller ones (at least 1: U_{-1} only on the toy).")
_PAIR = ("the dense latent, density > 0.1, whose decoder has the largest |cos| with U_{-1} of the processed "
         "W_U, and its s-partner; absent where no latent is dense")
_S = ("s_i = max_{j≠i} cos(W_enc[:, i], W_enc[:, j]) · cos(W_dec[i], W_dec[j]) (§3.3; sae-lens orientation, "
      "W_enc is d_in × d_sae).")


def _scalar(a: dict, key: str, default: float) -> float:
    return float(a[key]) if key in a else default


def _measured_of(inputs: FigureInputs, tier: str, target: str, seed: int | None) -> Measured:
    frame = inputs.frame

    def get(key: str) -> float | None:
        if key not in frame:
            return None
        same_seed = frame["seed"].isna() if seed is None else frame["seed"] == seed
        values = frame[(frame["tier"] == tier) & (frame["target"] == target) & same_seed][key].dropna()
        return None if values.empty else float(values.iloc[0])

    return get


def _panels(inputs: FigureInputs, path: Path, needs: tuple[str, ...],
            draw: Callable[[object, dict, Measured], str], suptitle: str) -> bool:
    """One panel per (tier, target) whose seed-0 arrays hold ``needs``; ``draw`` returns a title line."""
    return draw_panels(inputs, path, ANALYSIS_GLOB, needs,
                       lambda ax, tier, target, seed, a: draw(ax, a, _measured_of(inputs, tier, target, seed)),
                       suptitle)


def _log_density(density: np.ndarray, n_tokens: float) -> tuple[np.ndarray, np.ndarray]:
    """Density for a log axis: latents that never fired at 0.5 / n_tokens; returns (values, never_fired)."""
    dead = density <= 0
    return np.where(dead, 0.5 / max(n_tokens, 1.0), density), dead


def _scatter_density(ax, x: np.ndarray, a: dict, color: str = "C0", label: str = "latents", **kw) -> np.ndarray:
    """Scatter ``x`` against log density (never-fired latents as ▽ at the floor); returns the y drawn."""
    y, dead = _log_density(a["density"], _scalar(a, "n_tokens", 1.0))
    ax.scatter(x[~dead], y[~dead], s=10, alpha=0.6, color=color, label=label, **kw)
    if dead.any():
        ax.scatter(x[dead], y[dead], s=14, marker="v", color="0.55", label=f"never fired ({int(dead.sum())})")
    ax.set_yscale("log")
    ax.set_ylabel("activation density")
    return y


def _mark_top_pair(ax, a: dict, x: np.ndarray, y: np.ndarray) -> None:
    if "top_pair" not in a:  # no dense latent: no pair to mark
        return
    i, j = (int(v) for v in a["top_pair"])
    ax.scatter(x[[i, j]], y[[i, j]], s=80, facecolors="none", edgecolors="C3", linewidths=1.6,
               label=f"top pair ({i}, {j})", zorder=4)


def _alpha(n_points: int) -> float:
    """Marker opacity for a per-token scatter: faint for 20,000 tokens, solid for a few hundred."""
    return float(min(0.6, max(0.12, 3000 / max(n_points, 1))))


def _k(a: dict, key: str) -> int:
    return int(_scalar(a, key, 0))


# --------------------------------------------------------------------------------------------- Fig 1


def _fig1a(ax, a: dict, measured: Measured) -> str:
    x = a["rho_pc_enc"]
    y = _scatter_density(ax, x, a)
    _mark_top_pair(ax, a, x, y)
    ax.axvline(_scalar(a, "rho_threshold", 0.7), color="k", ls="--", lw=0.8, label="ρ = 0.7, density = 0.1")
    ax.axhline(_scalar(a, "dense_threshold", 0.1), color="k", ls="--", lw=0.8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(rf"$\rho_{{{_k(a, 'k_pc')}}}$(W_enc[:, i])  (norm fraction in the top PCs)")
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    low = measured("frac_rho_enc_low_and_sparse")
    dense = measured("frac_outliers_dense")
    parts = ([f"ρ<0.7 & sparse: {low:.0%}"] if low is not None else []) + \
            ([f"dense among outliers: {dense:.0%}"] if dense is not None else [])
    return ", ".join(parts)


def _fig1b(ax, a: dict, measured: Measured) -> str:
    x, y, s = a["rho_pc_dec"], a["rho_wu_dec"], a["score"]
    thr = _scalar(a, "pair_threshold", 0.9)
    paired = s > thr
    ax.scatter(x[~paired], y[~paired], s=10, alpha=0.6, color="C0", label="latents")
    if paired.any():
        ax.scatter(x[paired], y[paired], s=18, color="C1", label=f"paired (s > {thr:g})")
    _mark_top_pair(ax, a, x, y)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(rf"$\rho_{{{_k(a, 'k_pc')}}}$(W_dec[i])  (top PCs)")
    k_wu = _k(a, "k_wu")
    ax.set_ylabel(r"$\rho$(W_dec[i]) on $U_{-1}$" if k_wu == 1
                  else rf"$\rho$(W_dec[i]) on $U_{{-{k_wu}}}..U_{{-1}}$")
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    rho = measured("spearman_rho_pc_vs_rho_wu@" + FIGURE_READING)
    return "" if rho is None else f"Spearman = {rho:.2f}"


# --------------------------------------------------------------------------------------------- Fig 2


def _fig2a(ax, a: dict, measured: Measured) -> str:
    acts, u = a["pair_acts"], a["resid_u1"]
    i, j = (int(v) for v in a["top_pair"])
    ax.scatter(u, acts[:, 0] - acts[:, 1], s=2, alpha=_alpha(len(u)), color="C0", rasterized=True)
    ax.set_xlabel(r"x · $U_{-1}$  (SAE input along $U_{-1}$)")
    ax.set_ylabel(f"f_{i} − f_{j}  (top pair)")
    r = _scalar(a, "pearson_pair_diff_u1", float("nan"))
    return f"Pearson r = {r:.3f} over {_k(a, 'n_tokens'):,} tokens"


def _fig2b(ax, a: dict, measured: Measured) -> str:
    frac = np.asarray(a["u1_fraction_per_layer"])
    from matplotlib.ticker import MaxNLocator

    ax.plot(np.arange(len(frac)), frac, "o-", color="C0")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer (resid_post)")
    ax.set_ylabel(r"mean |x · $U_{-1}$| / ||x||")
    ax.set_ylim(bottom=0)
    trend = measured("spearman_layer_u1_fraction@" + FIGURE_READING)
    return "" if trend is None else f"Spearman(layer, fraction) = {trend:.2f}"


def _fig2c(ax, a: dict, measured: Measured) -> str:
    ax.scatter(a["resid_u1"], a["entropy"], s=2, alpha=_alpha(len(a["resid_u1"])), color="C2", rasterized=True)
    ax.set_xlabel(r"x · $U_{-1}$")
    ax.set_ylabel("output entropy (nats)")
    r = _scalar(a, "pearson_u1_entropy", float("nan"))
    return f"Pearson r = {r:.3f} over {_k(a, 'n_tokens'):,} tokens"


# --------------------------------------------------------------------------------------------- Fig 3


def _fig3(ax, a: dict, measured: Measured) -> str:
    density, dead = _log_density(a["density"], _scalar(a, "n_tokens", 1.0))
    points = ax.scatter(density, a["score"], c=a["rho_pc_enc"], cmap="viridis", vmin=0, vmax=1, s=12, alpha=0.8)
    if dead.any():
        ax.scatter(density[dead], a["score"][dead], s=14, marker="v", color="0.55",
                   label=f"never fired ({int(dead.sum())})")
        ax.legend(fontsize=7, loc="best", framealpha=0.8)
    ax.figure.colorbar(points, ax=ax, label=rf"$\rho_{{{_k(a, 'k_pc')}}}$(W_enc[:, i])", fraction=0.05)
    ax.axhline(_scalar(a, "pair_threshold", 0.9), color="k", ls="--", lw=0.8)
    ax.axvline(_scalar(a, "very_dense_threshold", 0.3), color="k", ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("activation density")
    ax.set_ylabel("pairwise score s_i")
    paired = measured("frac_very_dense_paired")
    n = measured("n_very_dense")
    return "" if paired is None else f"density > 0.3 with s > 0.9: {paired:.0%} of {int(n or 0)}"


# --------------------------------------------------------------------------------------------- Fig 5


def _dense_outliers(a: dict) -> np.ndarray:
    return (a["rho_pc_enc"] > _scalar(a, "rho_threshold", 0.7)) & (a["density"] > _scalar(a, "dense_threshold", 0.1))


def _fig5a(ax, a: dict, measured: Measured) -> str:
    cos, out = a["encdec_cos"], _dense_outliers(a)
    y, dead = _log_density(a["density"], _scalar(a, "n_tokens", 1.0))
    ax.scatter(cos[~out & ~dead], y[~out & ~dead], s=10, alpha=0.6, color="0.45", label="rest")
    if dead.any():
        ax.scatter(cos[dead], y[dead], s=14, marker="v", color="0.7", label=f"rest, never fired ({int(dead.sum())})")
    if out.any():
        ax.scatter(cos[out], y[out], s=22, color="C3", label=f"dense outliers ({int(out.sum())})")
        ax.axvline(float(np.median(cos[out])), color="C3", ls="--", lw=0.8)
    if (~out).any():
        ax.axvline(float(np.median(cos[~out])), color="0.45", ls="--", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlim(max(-1.02, float(cos.min()) - 0.05), min(1.02, float(cos.max()) + 0.05))
    ax.set_xlabel("cos(W_enc[:, i], W_dec[i])")
    ax.set_ylabel("activation density")
    ax.legend(fontsize=7, loc="best", framealpha=0.8)
    gap = measured("median_encdec_cos_outliers_minus_rest")
    return "" if gap is None else f"median(outliers) − median(rest) = {gap:+.2f}"


def _fig5b(ax, a: dict, measured: Measured) -> str:
    acts = a["pair_acts"]
    i, j = (int(v) for v in a["top_pair"])
    ax.scatter(acts[:, 0], acts[:, 1], s=3, alpha=_alpha(len(acts)), color="C0", rasterized=True)
    ax.set_xlabel(f"f_{i}")
    ax.set_ylabel(f"f_{j}")
    rate = measured("u1_pair_coactivation_rate@" + FIGURE_READING)
    return "" if rate is None else f"both active on {100 * rate:.2g}% of tokens"


def _fig5c(ax, a: dict, measured: Measured) -> str:
    points = ax.scatter(a["absmax_enc_cos"], a["absmax_dec_cos"], c=a["score"], cmap="coolwarm", vmin=-1, vmax=1,
                        s=12, alpha=0.8)
    ax.figure.colorbar(points, ax=ax, label="pairwise score s_i", fraction=0.05)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("cos(W_enc[:, i], W_enc[:, j]), j = argmax |cos|")
    ax.set_ylabel("cos(W_dec[i], W_dec[k]), k = argmax |cos|")
    return ""


def _spectrum(ax, a: dict, measured: Measured) -> str:
    for key, color, label in (("spectrum_raw", "0.6", "raw"), ("spectrum_processed", "k", "processed")):
        sv = np.asarray(a[key], dtype=np.float64)
        ax.plot(np.arange(1, len(sv) + 1), sv / np.median(sv), color=color, lw=1.2, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("index (descending)")
    ax.set_ylabel("singular value / median")
    ax.legend(fontsize=8)
    low = measured(f"wu_sv_min_over_median@{FIGURE_READING}")
    return "" if low is None else f"processed: S_min / median = {low:.3g}"


# ------------------------------------------------------------------------------------------ register

_FIGURES: tuple[tuple[str, tuple[str, ...], Callable, str, str], ...] = (
    ("fig1a-density-vs-rho", ("density", "rho_pc_enc"), _fig1a,
     "Fig 1a: activation density vs encoder composition with the top residual PCs",
     f"Antipodal Fig 1a. Activation density of each latent against ρ_k of its encoder vector W_enc[:, i]. "
     f"{_RHO} Dashed: the paper's thresholds ρ = 0.7 (outliers) and density = 0.1 (dense). Circled: the pair "
     f"({_PAIR}). {_DENSITY} {_SEED}"),
    ("fig1b-composition", ("rho_pc_dec", "rho_wu_dec", "score"), _fig1b,
     "Fig 1b: decoder composition with the top residual PCs vs the bottom W_U subspace",
     f"Antipodal Fig 1b. ρ_k of each decoder vector W_dec[i] on the top residual PCs (x) against its norm "
     f"fraction on the bottom left singular vectors of W_U (y). {_U1} {_WU} {_RHO} Orange: paired latents "
     f"(s_i > 0.9). "
     f"Title: the Spearman correlation of the two compositions over all latents (claim "
     f"antipodal.pc_wu_co_composition). {_SEED}"),
    ("fig2a-pair-difference", ("pair_acts", "resid_u1", "top_pair"), _fig2a,
     r"Fig 2a: the pair's activation difference vs the SAE input along $U_{-1}$",
     f"Antipodal Fig 2a. f_i − f_j of the pair ({_PAIR}) "
     f"against x · U_{{-1}}, x the SAE's input. {_U1} Pearson r over every counted token (the figure draws a "
     f"fixed random subset of at most 20,000). {_SEED}"),
    ("fig2b-u1-fraction-by-layer", ("u1_fraction_per_layer",), _fig2b,
     r"Fig 2b: residual norm fraction along $U_{-1}$ by layer",
     f"Antipodal Fig 2b. Mean over counted tokens of |x_l · U_{{-1}}| / ||x_l||, x_l = blocks.l.hook_resid_post "
     f"(the paper shows one sequence token by token; this is the mean over the token stream). {_U1} LM targets "
     f"only (the toy has no layers). {_SEED}"),
    ("fig2c-u1-vs-entropy", ("resid_u1", "entropy"), _fig2c,
     r"Fig 2c: SAE input along $U_{-1}$ vs the model's output entropy",
     f"Antipodal Fig 2c. x · U_{{-1}} against the entropy (nats) of the model's next-token distribution at the "
     f"same token (toy: softmax of LayerNorm(x) W_U). {_U1} Pearson r over every counted token (drawn: a fixed "
     f"random subset of at most 20,000). {_SEED}"),
    ("fig3-density-vs-score", ("density", "score", "rho_pc_enc"), _fig3,
     r"Fig 3: activation density vs pairwise score s (colour: $\rho$ of the encoder)",
     f"Antipodal Fig 3. Activation density against the pairwise score; colour ρ_k(W_enc[:, i]). {_S} Dashed: "
     f"s = 0.9; dotted: density = 0.3 (the paper's 'particularly those with an activation frequency exceeding "
     f"0.3'). {_DENSITY} {_SEED}"),
    ("fig5a-encdec-cosine", ("encdec_cos", "density", "rho_pc_enc"), _fig5a,
     "Fig 5a: encoder-decoder cosine of dense outliers vs the rest",
     f"Antipodal Fig 5a (App. B). cos(W_enc[:, i], W_dec[i]) against density; red: dense outliers "
     f"(ρ_k(W_enc[:, i]) > 0.7 and density > 0.1), grey: the rest; dashed lines: each group's median (claim "
     f"antipodal.enc_dec_aligned_when_dense). {_RHO} {_SEED}"),
    ("fig5b-pair-coactivation", ("pair_acts", "top_pair"), _fig5b,
     "Fig 5b: activations of the pair",
     f"Antipodal Fig 5b (App. B). f_i against f_j of the pair ({_PAIR}) on a fixed random subset of at most 20,000 "
     f"counted tokens; title: the fraction of all counted tokens on which both are > 0. {_SEED}"),
    ("fig5c-partner-cosines", ("absmax_enc_cos", "absmax_dec_cos", "score"), _fig5c,
     "Fig 5c: encoder and decoder cosines with their max-|cos| partners",
     f"Antipodal Fig 5c (App. B): for each latent, cos(W_enc[:, i], W_enc[:, j]) with j the latent of maximal "
     f"|cos| of the encoder, against cos(W_dec[i], W_dec[k]) with k chosen the same way for the decoder "
     f"(separately, as App. B states); colour: s_i. {_S} {_SEED}"),
    ("wu-spectrum", ("spectrum_raw", "spectrum_processed"), _spectrum,
     "W_U singular values: is there a dark subspace?",
     "Not a figure of the paper: every singular value of W_U divided by their median, raw (grey) and processed "
     "as TransformerLens's default loading makes it (black: final-norm gain folded, centred, the trivial "
     "all-ones direction excluded). The U_{-1} claims rest on a dark subspace (bottom values far below the "
     "median, Cancedda 2024; Stolfo et al. 2024); a flat tail says the model has none to reconstruct. "
     + _SEED),
)


def _maker(needs: tuple[str, ...], draw: Callable, suptitle: str) -> Callable[[FigureInputs, Path], bool]:
    return lambda inputs, path: _panels(inputs, path, needs, draw, suptitle)


FIGURES = tuple(FigureMaker(paper="antipodal", name=name, caption=caption, make=_maker(needs, draw, suptitle))
                for name, needs, draw, suptitle, caption in _FIGURES)
