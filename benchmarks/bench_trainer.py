"""sae-lens's ``SAETrainer``, as :func:`replication.training.fit` runs it, against a plain loop doing the same maths.

Not a test: a measurement. For each (shape, architecture) the
suite trains (the papers' own :class:`~replication.training.SAESpec` at the toy shape, d_in 32 / d_sae 64-128,
and the tinylm shape, d_in 128 (the tiny LM's d_model) / d_sae 256-1024; batch 256), it runs

- ``fit``: :func:`replication.training.fit` itself, on ``--steps`` steps (the spec's budget cut to that);
- ``plain``: a loop over the same batches from the same initialisation doing what sae-lens does that is
  part of the maths and nothing else: the activation scaler (its norm estimate, the scaling, the fold at
  the end), ``TrainStepInput`` with the coefficients of sae-lens's coefficient schedulers (the L1 / L0
  warm-up), ``training_forward_pass``, ``loss.backward()``, ``clip_grad_norm_(1.0)``, Adam, sae-lens's lr
  scheduler, and the dead-latent window only for the losses that read it (TopK's AuxK; JumpReLU's
  pre-activation loss when it is on);

and prints steps/s of each, their ratio, and whether the two trained SAEs are bit-identical (they must
be: otherwise the plain loop is not the same maths, and the ratio means nothing). Batches are drawn in
advance from a toy distribution (sparse features on random directions) and replayed to both, so neither pays
for data. A step is timed from one batch draw to the next, from the 11th training batch on (so not the
norm estimate, the first steps' allocations, nor the end), on this process's CPU time with one thread
(robust to other processes sharing the cores), else wall time; steps/s is one over the median step (robust
to a burst of contention on a shared machine; it leaves out what ``SAETrainer`` does every 100 or 2,000
steps, the progress bar and the sparsity-window log, which the profile shows are negligible). Each is run
``--repeats`` times, alternating; the best median of each is kept.

``--profile SHAPE/ARCH`` (default ``tinylm/jumprelu``, the antipodal tinylm SAE; ``none`` to skip) then runs that case's ``fit`` under
cProfile and prints where a step's time goes: the callees of ``SAETrainer._train_step`` and of the
training loop in ``fit``, per step.

Usage::

    python -m benchmarks.bench_trainer --threads 1              # from the repository root (~2-3 min)
    python -m benchmarks.bench_trainer --threads 1 --only tinylm --arch topk --steps 400
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import itertools
import pstats
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from replication.training import SAESpec, build_training_sae, fit, forget_batches

SEED = 0
WARMUP_STEPS = 10
ARCHITECTURES = ("standard", "topk", "topk-auxk", "jumprelu", "gated", "aligned-standard", "aligned-topk", "sagsae",
                 "gated-frozen-aux")
AUXK_WINDOW = 20
"""``topk-auxk``: the TopK spec with a dead window this short, so that AuxK runs on most steps (no spec of
the suite's dead windows, 200-1,000 steps, ends within a benchmark's run): it checks that the plain loop's
dead-latent window is sae-lens's, and shows what AuxK costs."""


def specs() -> dict[str, tuple[int, dict[str, SAESpec]]]:
    """``shape -> (d_in, architecture -> spec)``: the papers' own specs (the sae-lens ``gated`` rows, which no
    paper trains as is, take the Gated baseline's spec, ``replication-gated-frozen-aux``'s parent class)."""
    from replication.papers.antipodal import tinylm as antipodal_tinylm
    from replication.papers.antipodal import toy as antipodal_toy
    from replication.papers.bimodality import tinylm as bimodality_tinylm
    from replication.papers.bimodality import toy as bimodality_toy
    from replication.papers.cross import tinylm as cross_tinylm
    from replication.papers.cross import toy as cross_toy
    from replication.papers.sagsae import tinylm as sagsae_tinylm
    from replication.papers.sagsae import toy as sagsae_toy

    def auxk(spec: SAESpec) -> SAESpec:
        return dataclasses.replace(spec, trainer_options=(("dead_feature_window", AUXK_WINDOW),))

    toy_gated = sagsae_toy.TOY.gated_spec(1.0)
    tinylm_gated = sagsae_tinylm.TINYLM.gated_spec(1.0)
    bim = bimodality_tinylm.TINYLM_SETTINGS
    return {
        "toy": (32, {
            "standard": antipodal_toy.TOY_RELU,
            "topk": antipodal_toy.TOY_TOPK,
            "topk-auxk": auxk(antipodal_toy.TOY_TOPK),
            "jumprelu": antipodal_toy.TOY_JUMPRELU,
            "gated": dataclasses.replace(toy_gated, architecture="gated"),
            "aligned-standard": bimodality_toy.TOY_SETTINGS.aligned_spec(bimodality_toy.L1_ALIGNED[1]),
            # bimodality's: its dead window (200 steps) is shorter than a run, so AuxK is exercised
            "aligned-topk": bimodality_toy.TOY_SETTINGS.topk_spec(bimodality_toy.TOPK_KS[0], aligned=True),
            "sagsae": cross_toy.SAGSAE_SPEC,
            "gated-frozen-aux": toy_gated,
        }),
        "tinylm": (128, {
            "standard": bim.standard_spec(bim.l1_standard[1]),
            "topk": antipodal_tinylm.TOPK,
            "topk-auxk": auxk(antipodal_tinylm.TOPK),
            "jumprelu": antipodal_tinylm.JUMPRELU,
            "gated": dataclasses.replace(tinylm_gated, architecture="gated"),
            "aligned-standard": bim.aligned_spec(bim.l1_aligned[1]),
            "aligned-topk": cross_tinylm.SPECS["aligned"],
            "sagsae": sagsae_tinylm.TINYLM.sagsae_spec(1.0),
            "gated-frozen-aux": tinylm_gated,
        }),
    }


class Clock:
    """This process's CPU time with one torch thread (other processes do not count), else wall time."""

    def __init__(self) -> None:
        self.cpu_time = torch.get_num_threads() == 1
        self.name = "process CPU time" if self.cpu_time else "wall time"

    def __call__(self) -> float:
        return time.process_time() if self.cpu_time else time.perf_counter()


class Replay:
    """A :class:`replication.training.TrainingData` that serves batches drawn in advance, in a cycle, and
    notes the time of every draw (so a step is timed from one draw to the next)."""

    def __init__(self, d_in: int, batch_size: int, clock: Clock, n_distinct: int = 64):
        # sparse features as the toys have them: 8 d_in unit directions, each firing with probability
        # l0 / n_features at magnitude ~ N(1, 0.25) (toy_models.PowerLawFeatureToy with a flat spectrum)
        g = torch.Generator().manual_seed(1)
        n_features, l0 = 8 * d_in, (6.0 if d_in <= 32 else 16.0)
        directions = torch.nn.functional.normalize(torch.randn(n_features, d_in, generator=g), dim=1)

        def batch() -> torch.Tensor:
            fires = torch.rand(batch_size, n_features, generator=g) < l0 / n_features
            return (fires * (1 + 0.25 * torch.randn(batch_size, n_features, generator=g))) @ directions

        self.d_in, self.clock = d_in, clock
        self.batches = [batch() for _ in range(n_distinct)]
        self.times: list[float] = []

    def config(self) -> dict[str, Any]:
        return {"kind": "replay", "d_in": self.d_in}

    def rewind(self) -> None:
        self.times = []

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        self.times.append(self.clock())
        batch = self.batches[(len(self.times) - 1) % len(self.batches)]
        assert len(batch) == n
        return batch


def _trainer_config(spec: SAESpec) -> Any:
    """The ``SAETrainerConfig`` ``fit`` builds (read here for its defaults: betas, scheduler, windows)."""
    from sae_lens.config import LoggingConfig, SAETrainerConfig

    return SAETrainerConfig(total_training_samples=spec.training_samples, train_batch_size_samples=spec.batch_size,
                            lr=spec.lr, lr_end=spec.lr, lr_warm_up_steps=spec.lr_warm_up_steps,
                            n_checkpoints=spec.n_checkpoints, checkpoint_path=None, save_final_checkpoint=False,
                            device="cpu", logger=LoggingConfig(log_to_wandb=False, eval_every_n_wandb_logs=2**31 - 1),
                            **dict(spec.trainer_options))


def _reads_dead_mask(sae: Any) -> bool:
    """Whether ``sae``'s loss reads ``TrainStepInput.dead_neuron_mask`` (so the dead window is maths)."""
    from sae_lens.saes.jumprelu_sae import JumpReLUTrainingSAE
    from sae_lens.saes.topk_sae import TopKTrainingSAE

    if isinstance(sae, TopKTrainingSAE):
        return True  # AuxK
    return isinstance(sae, JumpReLUTrainingSAE) and sae.cfg.pre_act_loss_coefficient is not None


def plain_fit(spec: SAESpec, data: Replay, seed: int) -> Any:
    """The maths of ``fit`` (see the module docstring), in a plain loop."""
    from sae_lens.saes.sae import TrainCoefficientConfig, TrainStepInput
    from sae_lens.training.activation_scaler import ActivationScaler
    from sae_lens.training.optim import CoefficientScheduler, get_lr_scheduler

    cfg = _trainer_config(spec)
    torch.manual_seed(seed)
    sae = build_training_sae(spec, data.d_in, "cpu")
    generator = torch.Generator()
    batches = iter(lambda: data.sample(spec.batch_size, generator), None)
    optimizer = torch.optim.Adam(sae.parameters(), lr=cfg.lr, betas=(cfg.adam_beta1, cfg.adam_beta2))
    lr_scheduler = get_lr_scheduler(cfg.lr_scheduler_name, lr=cfg.lr, optimizer=optimizer,
                                    warm_up_steps=cfg.lr_warm_up_steps, decay_steps=cfg.lr_decay_steps,
                                    training_steps=cfg.total_training_steps, lr_end=cfg.lr_end,
                                    num_cycles=cfg.n_restart_cycles)
    coefficients = {}
    for name, c in sae.get_coefficients().items():
        c = c if isinstance(c, TrainCoefficientConfig) else TrainCoefficientConfig(value=c, warm_up_steps=0)
        coefficients[name] = CoefficientScheduler(warm_up_steps=c.warm_up_steps, final_value=c.value)
    scaler = ActivationScaler()
    if sae.cfg.normalize_activations == "expected_average_only_in":
        scaler.estimate_scaling_factor(d_in=sae.cfg.d_in, data_provider=batches,
                                       n_batches_for_norm_estimate=cfg.n_batches_for_norm_estimate)
    elif sae.cfg.normalize_activations == "covariance_whitening":
        raise NotImplementedError("no spec of the suite whitens")
    since_fired = torch.zeros(sae.cfg.d_sae) if _reads_dead_mask(sae) else None
    params = list(sae.parameters())
    sae.train()
    for step in range(cfg.total_training_steps):
        sae_in = scaler(next(batches))
        dead = None if since_fired is None else since_fired > cfg.dead_feature_window
        out = sae.training_forward_pass(TrainStepInput(
            sae_in=sae_in, dead_neuron_mask=dead, coefficients={k: s.value for k, s in coefficients.items()},
            n_training_steps=step, is_logging_step=False))
        if since_fired is not None:
            with torch.no_grad():
                since_fired += 1
                since_fired[out.feature_acts.bool().any(dim=-2)] = 0
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad()
        lr_scheduler.step()
        for s in coefficients.values():
            s.step()
    if scaler.scaling_factor is not None:
        sae.fold_activation_norm_scaling_factor(scaler.scaling_factor)
    return sae


def _n_norm_batches(spec: SAESpec) -> int:
    normalized = dict(spec.options).get("normalize_activations") == "expected_average_only_in"
    return _trainer_config(spec).n_batches_for_norm_estimate if normalized else 0


def _seconds_per_step(run: Callable[[], Any], data: Replay, spec: SAESpec, steps: int) -> tuple[float, Any]:
    data.rewind()
    sae = run()
    first = _n_norm_batches(spec) + WARMUP_STEPS
    times = data.times[first:]
    assert len(data.times) == _n_norm_batches(spec) + steps, (len(data.times), steps)
    return statistics.median(b - a for a, b in itertools.pairwise(times)), sae


def _same(a: Any, b: Any) -> str:
    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys():
        return "different parameters"
    worst = max((float((sa[k].double() - sb[k].double()).abs().max()) for k in sa), default=0.0)
    return "bit-identical" if all(torch.equal(sa[k], sb[k]) for k in sa) else f"DIFFER (max |diff| {worst:.2e})"


def bench(shape: str, arch: str, d_in: int, spec: SAESpec, steps: int, repeats: int, clock: Clock) -> None:
    spec = dataclasses.replace(spec, training_samples=spec.batch_size * steps)
    data = Replay(d_in, spec.batch_size, clock)
    best = {"fit": float("inf"), "plain": float("inf")}
    trained: dict[str, Any] = {}
    def fit_drawing() -> Any:  # each run draws its batches (fit replays a kept stream otherwise: no draw to time)
        forget_batches()
        return fit(spec, data, SEED)

    runs = {"fit": fit_drawing, "plain": lambda: plain_fit(spec, data, SEED)}
    for _ in range(repeats):
        for name, run in runs.items():
            seconds, trained[name] = _seconds_per_step(run, data, spec, steps)
            best[name] = min(best[name], seconds)
    print(f"{shape:<6} {arch:<17} {spec.architecture:<29} {spec.d_sae:>5} {1 / best['fit']:9.1f} "
          f"{1 / best['plain']:9.1f} {best['fit'] / best['plain']:7.2f}x {1e3 * (best['fit'] - best['plain']):+8.3f}  "
          f"{_same(trained['fit'], trained['plain'])}",
          flush=True)


#: what SAETrainer's loop runs per step, and whether it is the maths (the plain loop runs it too) or not:
#: (label, function name, file part, caller or None = every caller)
_PROFILED = (
    ("maths", "training_forward_pass", "training_forward_pass", "saes/", "_train_step"),
    ("maths", "loss.backward()", "backward", "torch/_tensor.py", "_train_step"),
    ("maths", "clip_grad_norm_", "_no_grad_wrapper", "clip_grad.py", "_train_step"),
    ("maths", "Adam step (optimizer.step)", "step", "optim/adam.py", None),
    ("maths", "optimizer.zero_grad", "zero_grad", "optim/optimizer.py", None),
    ("maths", "lr scheduler step", "step", "optim/lr_scheduler.py", "_train_step"),
    ("maths", "coefficient schedulers (L1/L0 warm-up)", "step", "training/optim.py", "_train_step"),
    ("maths", "activation scaler (per batch)", "__call__", "activation_scaler.py", "step"),
    # the firing stats feed the dead window (maths for TopK's AuxK, which the plain loop reads with
    # acts.bool().any(0)) and act_freq_scores (only logged, and the final SAE's metadata)
    ("bookkeeping", "firing stats: acts.bool().float()", "<method 'float' of 'torch._C.TensorBase' objects>", "~",
     "_train_step"),
    ("bookkeeping", "firing stats: .bool() x2", "<method 'bool' of 'torch._C.TensorBase' objects>", "~", "_train_step"),
    ("bookkeeping", "firing stats: .sum() x2", "<method 'sum' of 'torch._C.TensorBase' objects>", "~", "_train_step"),
    ("bookkeeping", "dead_neurons property (every step)", "dead_neurons", "sae_trainer.py", "_train_step"),
    ("bookkeeping", "sae.train() (every step)", "train", "nn/modules/module.py", "_train_step"),
    ("bookkeeping", "get_coefficients (dict per step)", "get_coefficients", "sae_trainer.py", None),
    ("bookkeeping", "maybe_reset_sparsity", "maybe_reset_sparsity", "sae_trainer.py", None),
    ("bookkeeping", "_checkpoint_if_needed", "_checkpoint_if_needed", "sae_trainer.py", None),
    ("bookkeeping", "_update_pbar (tqdm, loss .item() every 100)", "_update_pbar", "sae_trainer.py", None),
)


def profile(shape: str, arch: str, d_in: int, spec: SAESpec, steps: int, clock: Clock) -> None:
    """cProfile of one ``fit``: per step, the maths and the bookkeeping of ``SAETrainer``'s loop."""
    spec = dataclasses.replace(spec, training_samples=spec.batch_size * steps)
    data = Replay(d_in, spec.batch_size, clock)
    profiler = cProfile.Profile()
    profiler.runcall(fit, spec, data, SEED)
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def own(func: str, where: str) -> float:
        return sum(tt for (path, _, name), (_, _, tt, _, _) in stats.items() if name == func and where in path)

    def cumulative(func: str, where: str, caller: str | None) -> float:
        total = 0.0
        for (path, _, name), (_, _, _, ct, callers) in stats.items():
            if name != func or where not in path:
                continue
            if caller is None:
                total += ct
            else:
                total += sum(c[3] for (_, _, cname), c in callers.items() if cname == caller)
        return total

    loop = cumulative("step", "sae_trainer.py", "fit") + sum(
        cumulative(f, "sae_trainer.py", "fit") for f in ("maybe_reset_sparsity", "decorate_context"))
    print(f"\nprofile: fit of {shape}/{arch} ({spec.architecture}, d_sae {spec.d_sae}), {steps} steps under cProfile "
          f"(which inflates Python-heavy work): ms per step, cumulative; the loop {1e3 * loop / steps:.3f} ms",
          flush=True)
    totals: dict[str, float] = {}
    for group, label, func, where, caller in _PROFILED:
        ms = 1e3 * cumulative(func, where, caller) / steps
        totals[group] = totals.get(group, 0.0) + ms
        print(f"  {group:<11} {ms:8.3f} ms  {label}")
    ms = 1e3 * own("_train_step", "sae_trainer.py") / steps
    totals["bookkeeping"] += ms
    print(f"  {'bookkeeping':<11} {ms:8.3f} ms  _train_step's own time: the firing stats' in-place += and "
          "since_fired[did_fire] = 0, TrainStepInput (tensor operators are invisible to cProfile)")
    print("  " + ", ".join(f"{group} {ms:.3f} ms" for group, ms in totals.items()) +
          f", the rest of the loop {1e3 * loop / steps - sum(totals.values()):.3f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--steps", type=int, default=None, help="training steps per run (default: toy 500, tinylm 200)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each, alternating (best kept)")
    parser.add_argument("--only", choices=["toy", "tinylm"], action="append", help="these shapes only (repeatable)")
    parser.add_argument("--arch", choices=ARCHITECTURES, action="append", help="these architectures only (repeatable)")
    parser.add_argument("--profile", default="tinylm/jumprelu", help="SHAPE/ARCH to profile, or 'none'")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clock = Clock()
    default_steps = {"toy": 500, "tinylm": 200}
    table = specs()
    print(f"{torch.get_num_threads()} threads, {clock.name}; steps/s = 1 / the median step from step "
          f"{WARMUP_STEPS + 1} on, best of {args.repeats} alternating runs", flush=True)
    print(f"{'shape':<6} {'arch':<17} {'sae-lens architecture':<29} {'d_sae':>5} {'fit st/s':>9} {'plain st/s':>9} "
          f"{'ratio':>8} {'ms/step':>8}  trained SAEs", flush=True)
    for shape in args.only or list(table):
        d_in, by_arch = table[shape]
        for arch in args.arch or ARCHITECTURES:
            bench(shape, arch, d_in, by_arch[arch], args.steps or default_steps[shape], args.repeats, clock)
    if args.profile != "none":
        shape, arch = args.profile.split("/")
        d_in, by_arch = table[shape]
        profile(shape, arch, d_in, by_arch[arch], args.steps or default_steps[shape], clock)


if __name__ == "__main__":
    main()
