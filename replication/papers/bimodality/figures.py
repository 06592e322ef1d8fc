"""Report figures of the bimodality paper, drawn from saved arrays and the records' measured scalars.

Histograms (Figs 1/7, 16) and the MCS scatter (Fig 2) read the ``.npz`` the runner wrote from an analysis'
``arrays`` (:func:`replication.papers.bimodality.sweeps.sweep_report_arrays` on the toy and tinylm tiers): keys
``reference_*`` (one SAE: alignment scores, density, dead mask, MCS, mixture fit, dip p, BC), ``aligned_*``
(the aligned SAE at the matched sweep point) and ``checkpoint_*`` (snapshots). The sweep figures (Figs 4, 5,
10, 11) read the records' scalars ``{method}_{setting}_{l0,explained_variance,dead_fraction}`` (method
``standard``, ``aligned``, ``topk``, ``aligned-topk``) and, on LM targets, ``{method}_{setting}_ce_loss_recovered``
(Fig 4's CE panel). Histograms show seed 0 only (the lowest saved seed); the sweeps show every seed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from replication.figures import (
    FigureInputs,
    FigureMaker,
    first_seeds,
    panel_grid,
    panel_title,
    sweep_points,
)

ANALYSIS_GLOB = "bimodality-*"
"""Every tier's bimodality analysis (``bimodality-toy``, ``bimodality-real``, ...)."""

_A = ("a_i = W_enc[:, i] · W_dec[i] (sae-lens orientation; the paper's W^enc_{i,·} · W^dec_{·,i}, §3.1 eq. 1).")
_DEAD = ("Dead (black): never active on the evaluation tokens (toy: 16,384 held-out samples; LM targets: the "
         "token stream, BOS and padding excluded).")
_SEED = "Seed 0 only (all seeds are in the table below)."


def _hist(ax, a: np.ndarray, dead: np.ndarray, bins: np.ndarray, mixture: tuple | None = None) -> None:
    """Histogram of ``a`` with the dead latents stacked in black, the two-component fit dashed, a = 1 red."""
    alive = a[~dead]
    ax.hist([alive, a[dead]], bins=bins, stacked=True, color=["C0", "k"],
            label=[f"alive ({len(alive)})", f"dead ({int(dead.sum())})"])
    if mixture is not None:
        means, sds, weights = mixture
        grid = np.linspace(bins[0], bins[-1], 400)
        width = bins[1] - bins[0]
        for m, sd, w, color in zip(means, sds, weights, ("C1", "C2")):
            if sd > 0:
                pdf = np.exp(-0.5 * ((grid - m) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
                ax.plot(grid, len(a) * width * w * pdf, "--", color=color, lw=1.2,
                        label=f"mixture: mean {m:.2f}, weight {w:.2f}")
    ax.axvline(1.0, color="C3", lw=1.0)
    ax.set_xlabel("alignment score a_i")
    ax.set_ylabel("latents")


def _plain_log_ticks(axis) -> None:
    """Tick labels of a log axis as plain numbers (1, 2, 5, 10, 20, ...) instead of crowded 3×10^0."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))


def _bins(*samples: np.ndarray) -> np.ndarray:
    lo = min(0.0, *(float(s.min()) for s in samples)) - 0.05
    hi = max(1.0, *(float(s.max()) for s in samples)) + 0.05
    return np.linspace(lo, hi, 41)


def _stats_line(a: dict, prefix: str) -> str:
    if f"{prefix}dip_p" not in a:
        return ""
    p, bc = float(a[f"{prefix}dip_p"]), float(a[f"{prefix}bc"])
    verdict = "bimodal" if p < 0.05 and bc > 5 / 9 else "not bimodal"
    return f"dip p = {p:.3g}, Sarle BC = {bc:.2f}: {verdict}"


def _make_histograms(inputs: FigureInputs, path: Path) -> bool:
    from replication.papers import registry

    entries = [e for e in first_seeds(inputs, ANALYSIS_GLOB) if "reference_alignment" in e[3]]
    panels: list[tuple[str, np.ndarray, np.ndarray, tuple | None, str]] = []
    for tier, target, seed, a in entries:
        head = panel_title(tier, target, seed)
        ref = a["reference_alignment"]
        if "aligned_alignment" in a:
            bins = _bins(ref, a["aligned_alignment"])
            name = f"standard ReLU, λ = {float(a['reference_l1']):g} (reference)"
        else:
            bins = _bins(ref)
            known = registry().targets.get(target)
            name = "untrained SAE (fresh init)" if known is not None and known.control else "SAE under test"
        mixture = (a["reference_mixture_means"], a["reference_mixture_sds"], a["reference_mixture_weights"])
        panels.append((f"{head}\n{name}\n{_stats_line(a, 'reference_')}", ref, a["reference_dead"].astype(bool),
                       mixture, bins))
        if "aligned_alignment" in a:
            panels.append((f"{head}\naligned ReLU, λ = {float(a['aligned_l1']):g} (matched L0)\n"
                           "a_i = 1 by construction (§5)", a["aligned_alignment"], a["aligned_dead"].astype(bool),
                           None, bins))
    if not panels:
        return False
    fig, axes = panel_grid(len(panels), height=4.0)
    for ax, (title, values, dead, mixture, bins) in zip(axes, panels):
        _hist(ax, values, dead, bins, mixture)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="best", framealpha=0.8)
        ax.grid(alpha=0.3)
    fig.suptitle("Figs 1 and 7: alignment scores of standard and aligned SAEs, dead latents in black", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def _make_mcs(inputs: FigureInputs, path: Path) -> bool:
    entries = [e for e in first_seeds(inputs, ANALYSIS_GLOB) if "reference_mcs" in e[3]]
    if not entries:
        return False
    fig, axes = panel_grid(len(entries), width=5.0)
    frame = inputs.frame
    for ax, (tier, target, seed, a) in zip(axes, entries):
        dead = a["reference_dead"].astype(bool)
        ax.scatter(a["reference_alignment"][~dead], a["reference_mcs"][~dead], s=12, alpha=0.7, color="C0",
                   label="alive")
        if dead.any():
            ax.scatter(a["reference_alignment"][dead], a["reference_mcs"][dead], s=14, color="k", label="dead")
        ax.axvline(1.0, color="C3", lw=1.0)
        ax.set_xlabel("alignment score a_i")
        ax.set_ylabel("MCS_i")
        rows = frame[(frame["target"] == target) & (frame["seed"] == seed)] if "pearson_alignment_mcs" in frame \
            else frame.iloc[0:0]
        r = rows["pearson_alignment_mcs"].dropna()
        extra = f"\nPearson r = {float(r.iloc[0]):.2f}" if not r.empty else ""
        ax.set_title(panel_title(tier, target, seed) + extra, fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(alpha=0.3)
    fig.suptitle("Fig 2: MCS vs alignment score", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def _make_snapshots(inputs: FigureInputs, path: Path) -> bool:
    import matplotlib.pyplot as plt

    entries = [e for e in first_seeds(inputs, ANALYSIS_GLOB) if "checkpoint_alignment" in e[3]]
    if not entries:
        return False
    cols = max(len(e[3]["checkpoint_alignment"]) for e in entries)
    fig, axes = plt.subplots(len(entries), cols, figsize=(3.0 * cols, 3.2 * len(entries)), squeeze=False)
    for row, (tier, target, seed, a) in zip(axes, entries):
        snaps = a["checkpoint_alignment"]
        bins = _bins(*snaps)
        steps = a.get("checkpoint_steps", np.arange(len(snaps)))
        for k, ax in enumerate(row):
            if k >= len(snaps):
                ax.set_visible(False)
                continue
            ax.hist(snaps[k], bins=bins, color="C0")
            ax.axvline(1.0, color="C3", lw=1.0)
            end = " (end)" if k == len(snaps) - 1 else ""
            stats = ""
            if "checkpoint_bc" in a:
                stats = f"\nBC {float(a['checkpoint_bc'][k]):.2f}, dip p {float(a['checkpoint_dip_p'][k]):.2g}"
            ax.set_title(f"step {int(steps[k])}{end}{stats}", fontsize=9)
            ax.set_xlabel("a_i")
            ax.grid(alpha=0.3)
        lam = f", ReLU λ = {float(a['reference_l1']):g}" if "reference_l1" in a else ""
        row[0].set_ylabel(f"{target}\nseed {seed}{lam}\nlatents", fontsize=9)
    names = ", ".join(dict.fromkeys(e[1] for e in entries))
    fig.suptitle(f"Fig 16: alignment scores of the reference SAE over training ({names})", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


# ----------------------------------------------------------------------------------- sweeps (records)

_SWEEPS = (("ReLU: standard vs aligned (λ sweeps)", (("standard_", "C0", "standard"), ("aligned_", "C3", "aligned"))),
           ("TopK: standard vs aligned (k sweep)", (("topk_", "C0", "TopK"), ("aligned-topk_", "C3", "aligned TopK"))))


def _sweep_targets(frame) -> list[str]:
    """Targets with both a standard and an aligned ReLU sweep in the records."""
    if "target" not in frame:
        return []
    return [t for t in dict.fromkeys(frame["target"])
            if sweep_points(frame, t, "standard_", "l0", "explained_variance")
            and sweep_points(frame, t, "aligned_", "l0", "explained_variance")]


def _sweep_figure(y: str, ylabel: str, suptitle: str, stat: tuple[str, str]) -> Callable[[FigureInputs, Path], bool]:
    def make(inputs: FigureInputs, path: Path) -> bool:
        import matplotlib.pyplot as plt

        frame = inputs.frame
        targets = _sweep_targets(frame)
        if not targets:
            return False
        fig, axes = plt.subplots(len(targets), 2, figsize=(11, 3.9 * len(targets)), squeeze=False)
        for row, target in zip(axes, targets):
            for ax, (title, methods) in zip(row, _SWEEPS):
                drawn = False
                for prefix, color, name in methods:
                    for k, (seed, xs, ys) in enumerate(sweep_points(frame, target, prefix, "l0", y)):
                        keep = [(a, b) for a, b in zip(xs, ys) if a > 0]  # an L0 of 0 has no log
                        ax.plot([a for a, _ in keep], [b for _, b in keep], "o-", color=color, alpha=0.7,
                                label=f"{name} (one line per seed)" if k == 0 else None)
                        drawn = True
                ax.set_xscale("log")
                _plain_log_ticks(ax.xaxis)
                ax.set_xlabel("L0 (mean active latents per token)")
                ax.set_ylabel(ylabel)
                ax.grid(alpha=0.3, which="both")
                extra = ""
                if ax is row[0] and stat[0] in frame:
                    vals = frame[frame["target"] == target][stat[0]].dropna()
                    if not vals.empty:
                        extra = f"\n{stat[1]}: " + "/".join(f"{v:+.3f}" for v in vals) + " (seeds)"
                ax.set_title(f"{target}: {title}{extra}", fontsize=9)
                if drawn:
                    ax.legend(fontsize=7)
        fig.suptitle(suptitle, fontsize=11)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        return True

    return make


def _make_ce(inputs: FigureInputs, path: Path) -> bool:
    """CE loss recovered vs L0 of the standard and aligned ReLU sweeps, one panel per target that records it."""
    frame = inputs.frame
    targets = [t for t in _sweep_targets(frame)
               if sweep_points(frame, t, "standard_", "l0", "ce_loss_recovered")]
    if not targets:
        return False
    fig, axes = panel_grid(len(targets), width=5.5)
    for ax, target in zip(axes, targets):
        for prefix, color, name in (("standard_", "C0", "standard"), ("aligned_", "C3", "aligned")):
            for k, (seed, xs, ys) in enumerate(sweep_points(frame, target, prefix, "l0", "ce_loss_recovered")):
                keep = [(a, b) for a, b in zip(xs, ys) if a > 0]
                ax.plot([a for a, _ in keep], [b for _, b in keep], "o-", color=color, alpha=0.7,
                        label=f"{name} ReLU (one line per seed)" if k == 0 else None)
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.set_xlabel("L0 (mean active latents per token)")
        ax.set_ylabel("CE loss recovered (App. B)")
        ax.grid(alpha=0.3, which="both")
        extra = ""
        if "ce_recovered_gap_min_over_l0_overlap" in frame:
            vals = frame[frame["target"] == target]["ce_recovered_gap_min_over_l0_overlap"].dropna()
            if not vals.empty:
                extra = "\nmin CE-recovered gap (aligned − standard): " + "/".join(f"{v:+.3f}" for v in vals) \
                    + " (seeds)"
        ax.set_title(f"{target}{extra}", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("Fig 4: CE loss recovered vs L0, standard vs aligned ReLU", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


FIGURES = (
    FigureMaker(
        paper="bimodality", name="fig7-alignment-histograms",
        caption=f"Bimodality Figs 1 and 7. Histograms of the alignment scores {_A} {_DEAD} Toy: the reference "
                "standard ReLU SAE (the λ sweep point whose L0 is nearest the data's planted L0 of 6) and the aligned "
                "ReLU SAE at the aligned sweep point nearest the reference's L0 (Fig 7's matched pair); the negative "
                "control is an untrained sae-lens standard SAE; real-tier panels (when recorded) are the pretrained "
                "SAEs of the paper's Fig 1 as sae-lens loads them; tinylm: the same pair for SAEs (d_sae = 512) on the "
                "tiny LM's blocks.3.hook_resid_post, the reference being the λ sweep point whose L0 is nearest 16. "
                "Dashed: the two-component Gaussian mixture fitted by EM (its lower component is the 'low mode' of "
                "bimodality.dead_cluster_at_zero); red line: a = 1. "
                "Verdict rule: bimodal iff Hartigan's dip test p < 0.05 and Sarle's BC > 5/9. " + _SEED,
        make=_make_histograms,
    ),
    FigureMaker(
        paper="bimodality", name="fig2-mcs-vs-alignment",
        caption=f"Bimodality Fig 2. MCS_i (max cosine of W_dec[i] with any decoder row of a standard SAE with twice "
                f"the latents trained on the same data at the same λ) against a_i for the toy's reference standard "
                f"SAE (tinylm: d_sae 512 against 1024). {_A} Red line: a = 1. Title: Pearson r (claim "
                "bimodality.mcs_correlation). " + _SEED,
        make=_make_mcs,
    ),
    FigureMaker(
        paper="bimodality", name="fig4-ev-vs-l0",
        caption="Bimodality Figs 4 and 10 (reconstruction vs sparsity). Explained variance 1 − Σ||x − x̂||² / "
                "Σ||x − mean(x)||² (App. B, pooled over the evaluation tokens) against L0 (mean number of active "
                "latents per token), for sae-lens standard ReLU (decoder-norm-weighted L1, λ = 0.25-2) vs the aligned "
                "ReLU SAE (λ = 0.03-1), and sae-lens TopK vs aligned TopK (k = 2, 16); d_sae = 128, every seed; tinylm "
                "(blocks.3.hook_resid_post, d_sae = 512): standard λ = 0.5-4, aligned λ = 0.25-2, k = 4, 32. The "
                "paper plots CE loss recovered on an LM (the tinylm's is drawn separately); the toy has no LM. Title: "
                "the worst aligned − standard gap over the L0 overlap, interpolated in log L0 (claim "
                "bimodality.aligned_pareto). Points with L0 = 0 are off the log axis.",
        make=_sweep_figure("explained_variance", "explained variance (App. B)",
                           "Figs 4 and 10: explained variance vs L0, standard vs aligned training",
                           ("ev_gap_min_over_l0_overlap", "min EV gap (aligned − standard)")),
    ),
    FigureMaker(
        paper="bimodality", name="fig5-dead-vs-l0",
        caption="Bimodality Figs 5 and 11 (dead latents vs sparsity). Fraction of latents never active on the "
                "evaluation tokens against L0, for the same sweeps as Figs 4/10; every seed. Title: the largest "
                "aligned − standard dead-fraction gap over the L0 overlap (claim bimodality.aligned_no_dead needs "
                "it < 0). Points with L0 = 0 are off the log axis.",
        make=_sweep_figure("dead_fraction", "dead fraction",
                           "Figs 5 and 11: dead latents vs L0, standard vs aligned training",
                           ("aligned_minus_standard_dead_fraction", "max dead gap (aligned − standard)")),
    ),
    FigureMaker(
        paper="bimodality", name="fig16-alignment-over-training",
        caption="Bimodality Fig 16 (creation of bimodality during training). Histograms of the alignment scores of "
                "the reference standard ReLU SAE (toy; tinylm) at each snapshot sae-lens saved during training "
                "(n_checkpoints = 4) and at the end, with Sarle's BC and the dip test p-value of each (claim "
                "bimodality.emerges_in_training compares the end with the first snapshot). The paper shows a TopK "
                f"SAE's SAEBench checkpoints; the toy tier snapshots its reference ReLU SAE. {_A} " + _SEED,
        make=_make_snapshots,
    ),
    FigureMaker(
        paper="bimodality", name="fig4-ce-recovered-vs-l0",
        caption="Bimodality Fig 4 (CE loss recovered vs sparsity), on the targets with an LM (tinylm). CE loss "
                "recovered (H* − H_0) / (H_orig − H_0) (App. B): H* with the SAE's reconstruction spliced into the LM "
                "at the SAE's hook (non-BOS positions), H_0 with that activation zeroed, on held-out windows; against "
                "L0, for the standard vs aligned ReLU λ sweeps, every seed. Title: the worst aligned − standard gap "
                "over the L0 overlap, interpolated in log L0 (reported beside bimodality.aligned_pareto, whose "
                "condition is on explained variance on every tier).",
        make=_make_ce,
    ),
)
