"""Train SAEs with sae-lens's trainer on any activations (toy data, cached LM activations), once per
configuration and seed.

Any architecture in sae-lens's training registry works (``standard``, ``topk``, ``jumprelu``, ``gated``,
and the variants this package registers). Training goes through :class:`sae_lens.training.sae_trainer.
SAETrainer`, exactly as sae-lens's own ``sae_lens.synthetic.train_toy_sae`` does, but reads batches from any
:class:`TrainingData`. The trained SAE is saved with ``save_inference_model`` and read back with
``SAE.load_from_disk`` (the format pretrained SAEs ship in), under a cache key made of the spec, the data's
configuration and the seed: every claim that reads the same SAE reuses it, across test sessions too. A sweep's
SAEs on one (data, seed) read the same batches: they are drawn once per process and replayed (bit for bit the
batches each run would draw itself).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from replication.cache import cached_dir


class TrainingData(Protocol):
    """Activations to train on (a toy distribution, or an LM's cached activations): ``sample(n, generator)``
    gives ``(n, d_in)`` activations."""

    d_in: int

    def config(self) -> dict[str, Any]:
        """A JSON-serialisable description; it is part of the cache key of everything trained on the data."""
        ...

    def sample(self, n: int, generator: torch.Generator) -> Tensor: ...


@dataclass(frozen=True)
class SAESpec:
    """How to train one SAE: a sae-lens architecture, its width and options, and the training budget."""

    architecture: str
    d_sae: int
    options: tuple[tuple[str, Any], ...] = ()
    """Extra fields of the architecture's ``TrainingSAEConfig`` (``k``, ``l1_coefficient``, ...)."""
    training_samples: int = 256 * 2000
    batch_size: int = 256
    lr: float = 3e-4
    lr_warm_up_steps: int = 0
    n_checkpoints: int = 0
    """Intermediate snapshots to keep (evenly spaced), besides the final SAE."""
    trainer_options: tuple[tuple[str, Any], ...] = field(default=())
    """Extra fields of sae-lens's ``SAETrainerConfig``."""

    @staticmethod
    def make(architecture: str, d_sae: int, **kwargs: Any) -> "SAESpec":
        """``SAESpec.make("topk", 128, k=4, training_samples=...)``: unknown keys go to ``options``."""
        own = {f for f in SAESpec.__dataclass_fields__ if f not in ("architecture", "d_sae", "options")}
        mine = {k: kwargs.pop(k) for k in list(kwargs) if k in own}
        return SAESpec(architecture, d_sae, tuple(sorted(kwargs.items())), **mine)


@dataclass(frozen=True)
class TrainedSAE:
    sae: Any  # sae_lens.SAE
    checkpoints: tuple[Any, ...]
    """Snapshots during training, in order (empty unless ``n_checkpoints``)."""
    path: Path


class _Stream:
    """The batches of one (data, seed, batch size), drawn once: every SAE trained on the same data with the same
    seed reads the same sequence (the generator is seeded from the seed alone), so a sweep's SAEs replay it
    instead of each drawing it again. At most ``max_bytes`` are kept; past them a reader continues from the
    generator's state where the kept prefix ends, so every reader gets the same batches as a fresh draw."""

    def __init__(self, data: TrainingData, batch_size: int, seed: int, max_bytes: int):
        self.data, self.batch_size, self.max_bytes = data, batch_size, max_bytes
        self.generator = torch.Generator().manual_seed(10_000 + seed)
        self.batches: list[Tensor] = []
        self.end_state: Tensor | None = None
        """The generator's state after the kept prefix, once no more is kept (``None`` until then)."""

    def batch(self, i: int) -> Tensor | None:
        """Batch ``i`` if it is (or can still be) kept, else ``None``."""
        while len(self.batches) <= i and self.end_state is None:
            if self.batches and (len(self.batches) + 1) * _nbytes(self.batches[0]) > self.max_bytes:
                self.end_state = self.generator.get_state()
                break
            self.batches.append(self.data.sample(self.batch_size, self.generator))
        return self.batches[i] if i < len(self.batches) else None


def _nbytes(t: Tensor) -> int:
    return t.numel() * t.element_size()


class _Batches(Iterator[Tensor]):
    """One training run's batches: the stream's kept batches (copies: the trainer owns what it is given), then
    fresh draws from where the kept ones end."""

    def __init__(self, stream: _Stream):
        self.stream, self.i = stream, 0
        self.live: torch.Generator | None = None

    def __next__(self) -> Tensor:
        if self.live is None:
            kept = self.stream.batch(self.i)
            if kept is not None:
                self.i += 1
                return kept.clone()
            self.live = torch.Generator()
            self.live.set_state(self.stream.end_state)  # type: ignore[arg-type]
        return self.stream.data.sample(self.stream.batch_size, self.live)


#: the stream of the latest (data, seed, batch size) in this process: one at a time, as a unit trains a sweep
_STREAM: dict[tuple[str, str, int, int], _Stream] = {}
STREAM_MAX_BYTES = 1 << 30


def forget_batches() -> None:
    """Drop this process's kept batches, so the next run draws each of its batches itself (a benchmark that
    times every draw)."""
    _STREAM.clear()


def _data_key(data: TrainingData) -> str:
    """What makes two :class:`TrainingData` the same data: their configuration (the SAE cache key's part)."""
    return json.dumps(data.config(), sort_keys=True)


def _batches(data: TrainingData, batch_size: int, seed: int) -> _Batches:
    key = (type(data).__qualname__, _data_key(data), seed, batch_size)
    if key not in _STREAM:
        _STREAM.clear()
        _STREAM[key] = _Stream(data, batch_size, seed, STREAM_MAX_BYTES)
    return _Batches(_STREAM[key])


def data_device(data: TrainingData) -> str:
    """Where SAEs train on ``data``: its ``device`` attribute if it has one (LM activations on a GPU
    machine), else ``"cpu"``. Batches are drawn on the CPU; sae-lens's trainer moves each to the SAE."""
    return str(getattr(data, "device", "cpu"))


def build_training_sae(spec: SAESpec, d_in: int, device: str = "cpu") -> Any:
    """A fresh sae-lens ``TrainingSAE`` of ``spec``'s architecture (from sae-lens's registry)."""
    import replication.saes  # noqa: F401  (registers this package's architectures in sae-lens)
    from sae_lens.registry import SAE_TRAINING_CLASS_REGISTRY

    if spec.architecture not in SAE_TRAINING_CLASS_REGISTRY:
        raise KeyError(f"unknown SAE architecture {spec.architecture!r}; sae-lens knows: "
                       f"{', '.join(sorted(SAE_TRAINING_CLASS_REGISTRY))}")
    sae_cls, cfg_cls = SAE_TRAINING_CLASS_REGISTRY[spec.architecture]
    cfg = cfg_cls(d_in=d_in, d_sae=spec.d_sae, device=device, **dict(spec.options))
    return sae_cls(cfg)


class _Observed(Iterator[Tensor]):
    """Batches that call ``before_batch()`` first: sae-lens draws one batch per step, so this runs once per step."""

    def __init__(self, batches: Iterator[Tensor], before_batch: Callable[[], None]):
        self.batches, self.before_batch = batches, before_batch

    def __next__(self) -> Tensor:
        self.before_batch()
        return next(self.batches)


@contextmanager
def _no_trainer_bar() -> Iterator[None]:
    """sae-lens's trainer draws its own "Training SAE" bar, and one for its norm estimate, per SAE (hundreds
    in a run, and ``--quiet`` cannot reach them): they get disabled ones; the run's own progress display counts
    the measurements instead."""
    import functools

    from sae_lens.training import activation_scaler, sae_trainer
    from tqdm.auto import tqdm

    modules = (sae_trainer, activation_scaler)  # its "Training SAE" bar, and the norm estimate's
    saved = [m.tqdm for m in modules]
    for module in modules:
        module.tqdm = functools.partial(tqdm, disable=True)
    try:
        yield
    finally:
        for module, bar in zip(modules, saved):
            module.tqdm = bar


def fit(spec: SAESpec, data: TrainingData, seed: int, out_dir: Path | None = None,
        on_step: Callable[[Any, int], None] | None = None) -> Any:
    """Train ``spec`` on ``data`` with sae-lens's ``SAETrainer``; returns the trained ``TrainingSAE``.

    If ``out_dir`` is given, intermediate snapshots are saved as inference SAEs under
    ``out_dir/checkpoints/<i>``. If ``on_step`` is given, it is called as ``on_step(sae, n_steps_done)``
    before every training step (so first on the initialised SAE) and once after the last step: a
    per-step observer (e.g. of a constraint), not part of the cache key (use it with ``fit``, not
    :func:`train_sae`).
    """
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.training.sae_trainer import SAETrainer

    torch.manual_seed(seed)
    device = data_device(data)
    sae = build_training_sae(spec, data.d_in, device)
    trainer_cfg = SAETrainerConfig(
        total_training_samples=spec.training_samples,
        train_batch_size_samples=spec.batch_size,
        lr=spec.lr,
        lr_end=spec.lr,
        lr_warm_up_steps=spec.lr_warm_up_steps,
        n_checkpoints=spec.n_checkpoints,
        checkpoint_path=None,
        save_final_checkpoint=False,
        device=device,
        # as sae_lens.synthetic.train_toy_sae: no wandb, evals disabled
        logger=LoggingConfig(log_to_wandb=False, eval_every_n_wandb_logs=2**31 - 1),
        **dict(spec.trainer_options),
    )
    snapshots: list[int] = []

    def save_snapshot(checkpoint_path: Path | None) -> None:  # noqa: ARG001  (sae-lens passes a temp path)
        if out_dir is None:
            return
        target = out_dir / "checkpoints" / str(len(snapshots))
        target.mkdir(parents=True)
        trainer.sae.save_inference_model(target)
        (target / "step.json").write_text(json.dumps({"step": trainer.n_training_steps}))
        snapshots.append(trainer.n_training_steps)

    batches: Iterator[Tensor] = _batches(data, spec.batch_size, seed)
    if on_step is not None:
        observer = on_step
        batches = _Observed(batches, lambda: observer(trainer.sae, trainer.n_training_steps))
    trainer = SAETrainer(cfg=trainer_cfg, sae=sae, data_provider=batches, save_checkpoint_fn=save_snapshot)
    with _no_trainer_bar():
        trained = trainer.fit()
    if on_step is not None:
        on_step(trained, trainer.n_training_steps)
    return trained


def _load(path: Path) -> Any:
    import replication.saes  # noqa: F401
    from sae_lens import SAE

    return SAE.load_from_disk(str(path), device="cpu")


_MEMO: dict[tuple[SAESpec, str, int], TrainedSAE] = {}


def train_sae(spec: SAESpec, data: TrainingData, seed: int) -> TrainedSAE:
    """The SAE of ``spec`` trained on ``data`` with ``seed``: from memory, the disk cache, or trained now."""
    data_key = _data_key(data)
    key = (spec, data_key, seed)
    if key not in _MEMO:
        # "toy-sae": the cache's stable key for every trained SAE, whatever it was trained on
        config = {"kind": "toy-sae", "spec": asdict(spec), "data": json.loads(data_key), "seed": seed}
        if data_device(data) != "cpu":  # a GPU-trained SAE is not bit-identical to a CPU-trained one
            config["device"] = data_device(data)

        def build(tmp: Path) -> None:
            sae = fit(spec, data, seed, out_dir=tmp)
            sae.save_inference_model(tmp / "final")

        loaded: dict[Path, tuple[Any, tuple[Any, ...]]] = {}

        def load(path: Path) -> None:  # a cached entry that does not load is rebuilt (replication.cache)
            snapshots = path / "checkpoints"
            checkpoints = sorted(snapshots.iterdir(), key=lambda p: int(p.name)) if snapshots.exists() else []
            loaded[path] = (_load(path / "final"), tuple(_load(p) for p in checkpoints))

        path = cached_dir("toy-sae", config, build, check=load)
        if path not in loaded:
            load(path)
        _MEMO[key] = TrainedSAE(*loaded[path], path)
    return _MEMO[key]
