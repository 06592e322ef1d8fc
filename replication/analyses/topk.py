"""Toy-tier measurement of the ``topk.*`` background claims on sae-lens's TopK and standard SAEs.

Data: :class:`toy_models.SparseFeatureToy` (128 features in 32 dimensions, each firing with p = 0.03, so
~3.8 active per token). Sweeps: sae-lens ``topk`` at k in {2, 4, 8} and sae-lens ``standard`` (ReLU with the
decoder-norm-weighted L1 of sae-lens) at lambda in {0.1, 0.3, 1, 3}, all with d_sae = 128, 2,000 steps of
256 samples, lr 1e-3, no resampling. The lambda range was chosen to span the TopK sweep's L0 (2-8) from both
sides (L0 ~ 18 down to ~0, measured on seed 0) so that the sweeps overlap; lr and steps were chosen so that
TopK's explained variance has flattened (k=8: 0.84 at 2,000 steps). Evaluation: 16,384 held-out tokens
from a generator independent of training.
"""

from __future__ import annotations

import torch

from replication.checks import check_finite_weights, check_sae_input
from replication.claims import Tier
from replication.metrics import (
    activation_density,
    compare_sweeps,
    dead_fraction,
    explained_variance,
    l0_per_token,
    mean_l0,
    shrinkage_ratio,
)
from replication.targets import ANALYSES, Analysis, Target
from replication.training import ToySAESpec, train_toy_sae
from toy_models import SparseFeatureToy

TOPK_KS = (2, 4, 8)
L1_COEFFICIENTS = (0.1, 0.3, 1.0, 3.0)
D_SAE = 128
N_EVAL = 16_384
_TRAIN = dict(training_samples=256 * 2000, batch_size=256, lr=1e-3)

TOY_SPARSE = Target(
    name="toy-sparse",
    tier=Tier.TOY,
    description="128 sparse features (p = 0.03) in superposition in 32 dimensions; sae-lens TopK and "
                "ReLU+L1 sweeps at d_sae = 128",
    seeds=(0, 1, 2),
)


def sweep_specs() -> list[ToySAESpec]:
    return ([ToySAESpec.make("topk", D_SAE, k=k, **_TRAIN) for k in TOPK_KS]
            + [ToySAESpec.make("standard", D_SAE, l1_coefficient=lam, **_TRAIN) for lam in L1_COEFFICIENTS])


def measure(target: Target, seed: int | None) -> dict[str, float]:
    assert seed is not None
    data = SparseFeatureToy(seed=seed)
    x = data.sample(N_EVAL, torch.Generator().manual_seed(1_000_003 + seed))
    out: dict[str, float] = {}
    curves: dict[str, tuple[list[float], list[float]]] = {"topk": ([], []), "standard": ([], [])}
    max_dev = 0.0
    for spec in sweep_specs():
        sae = train_toy_sae(spec, data, seed).sae
        check_sae_input(sae, x)
        check_finite_weights(sae)
        with torch.no_grad():
            f = sae.encode(x)
            x_hat = sae.decode(f)
        opts = dict(spec.options)
        label = f"k{opts['k']}" if spec.architecture == "topk" else f"l1_{opts['l1_coefficient']:g}"
        l0, shrink = float(mean_l0(f)), float(shrinkage_ratio(x, x_hat))
        dead = float(dead_fraction(activation_density(f)))
        out.update({f"{spec.architecture}_{label}_l0": l0, f"{spec.architecture}_{label}_shrinkage": shrink,
                    f"{spec.architecture}_{label}_explained_variance": float(explained_variance(x, x_hat)),
                    f"{spec.architecture}_{label}_dead_fraction": dead})
        curves[spec.architecture][0].append(l0)
        curves[spec.architecture][1].append(shrink)
        if spec.architecture == "topk":
            max_dev = max(max_dev, float((l0_per_token(f) - opts["k"]).abs().max()))
    out["topk_l0_max_abs_deviation"] = max_dev
    # a ReLU point with L0 == 0 (fully collapsed) has no log L0 and no shrinkage to compare: drop it
    relu = [(a, b) for a, b in zip(*curves["standard"]) if a > 0]
    cmp = compare_sweeps(torch.tensor(curves["topk"][0]), torch.tensor(curves["topk"][1]),
                         torch.tensor([a for a, _ in relu]), torch.tensor([b for _, b in relu]))
    out["shrinkage_gap_min_over_l0_overlap"] = float(cmp.min_gap)
    out["relu_dead_fraction_at_max_l1"] = out[f"standard_l1_{max(L1_COEFFICIENTS):g}_dead_fraction"]
    return out


ANALYSES.register(Analysis(
    name="topk-toy",
    tier=Tier.TOY,
    targets=(TOY_SPARSE,),
    provides=frozenset({"topk_l0_max_abs_deviation", "shrinkage_gap_min_over_l0_overlap",
                        "relu_dead_fraction_at_max_l1"}),
    run=measure,
))


def _sweep_figure(inputs, path) -> bool:
    import matplotlib.pyplot as plt

    from replication.figures import sweep_points

    frame = inputs.frame
    if "target" not in frame or not (frame["target"] == TOY_SPARSE.name).any():
        return False
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, y, label in zip(axes, ("shrinkage", "explained_variance", "dead_fraction"),
                            ("shrinkage ratio E||x_hat||/||x||", "explained variance (App. B)", "dead fraction")):
        for prefix, color, name in (("topk_", "C0", "TopK (k sweep)"), ("standard_", "C3", "ReLU+L1 (λ sweep)")):
            for i, (seed, xs, ys) in enumerate(sweep_points(frame, TOY_SPARSE.name, prefix, "l0", y)):
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


from replication.figures import FigureMaker, register_figure  # noqa: E402

register_figure(FigureMaker(
    paper="topk", name="shrinkage-vs-l0",
    caption="SAE primer §3-4 (no figure in the source): shrinkage ratio, explained variance and dead fraction "
            "against L0 for sae-lens TopK (k = 2, 4, 8) and ReLU+L1 (λ = 0.1-3) on toy-sparse; one line per "
            "seed. ReLU points with L0 = 0 are off the log axis.",
    make=_sweep_figure,
))
