"""The topk figure of the report (drawn from the records' measured scalars)."""

from __future__ import annotations

from pathlib import Path

from replication.figures import FigureInputs, FigureMaker, sweep_points

TARGET = "toy-sparse"


def _sweep_figure(inputs: FigureInputs, path: Path) -> bool:
    import matplotlib.pyplot as plt

    frame = inputs.frame
    if "target" not in frame or not (frame["target"] == TARGET).any():
        return False
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, y, label in zip(axes, ("shrinkage", "explained_variance", "dead_fraction"),
                            ("shrinkage ratio E||x_hat||/||x||", "explained variance (App. B)", "dead fraction")):
        for prefix, color, name in (("topk_", "C0", "TopK (k sweep)"), ("standard_", "C3", "ReLU+L1 (λ sweep)")):
            for i, (seed, xs, ys) in enumerate(sweep_points(frame, TARGET, prefix, "l0", y)):
                ax.plot(xs, ys, "o-", color=color, alpha=0.7, label=name if i == 0 else None)
        ax.set_xscale("log")
        ax.set_xlabel("L0 (mean active latents per token)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle("toy-sparse: TopK vs ReLU+L1 at matched L0 (one line per seed)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


FIGURES = (FigureMaker(
    paper="topk", name="shrinkage-vs-l0",
    caption="SAE primer §3-4 (no figure in the source): shrinkage ratio, explained variance and dead fraction "
            "against L0 for sae-lens TopK (k = 2, 4, 8) and ReLU+L1 (λ = 0.1-3) on toy-sparse; one line per "
            "seed. ReLU points with L0 = 0 are off the log axis.",
    make=_sweep_figure,
),)
