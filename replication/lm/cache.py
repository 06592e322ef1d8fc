"""Activations of any language model at any hookpoints, cached on disk once, for training SAEs on them.

The real tier trains its own SAEs (bimodality §5: standard vs aligned ReLU SAEs on Pythia-160M and Gemma 2
2B; sagsae: SA-GSAE vs Gated on Pythia-1B and SmolLM3-3B). Every SAE of a sweep reads the same
activations, so the model runs over the text once per :class:`ActivationCacheSpec` and the activations of
all its hooks go to disk (memory-mapped ``.npy``, the layout of the tinylm tier's cache, so that
:class:`CachedActivations` reads both); SAEs then train from the cache by
drawing rows uniformly with replacement (:class:`LMActivations`, a ``TrainingData``).

Definitions:

- Tokens: the text source is tokenised with the model's tokenizer, concatenated, and cut into contexts of
  ``ctx_len`` tokens, each starting with BOS (:func:`replication.lm.text.text_windows`). Positions whose
  input token is BOS (or the pad token) are **excluded** from the cache (their activations are outliers of
  much larger norm; sae-lens's ``exclude_special_tokens`` does the same).
- Held-out split: if ``eval_text`` is given (bimodality §5.1: trained on the Pile, tested on OpenWebText),
  the held-out rows come from it; otherwise — or when a local text folder replaces every source
  (``SAE_REPLICATION_TEXT``) — from the first ``heldout_tokens`` of ``text``, and the train rows from the
  tokens after them (disjoint contexts).
- Hooks: a transformer-lens hook name, or a sum ``"a+b"`` of hook names of one forward pass. Pythia (GPT-NeoX)
  blocks run attention and MLP in parallel, so they have no ``hook_resid_mid``; the sagsae paper's
  "resid-mid" of Pythia-1B is then taken as ``blocks.L.hook_resid_pre+blocks.L.hook_attn_out`` (the
  stream a sequential block would carry between attention and MLP; = ``resid_post - mlp_out``), a choice
  stated here because the paper does not give one.
- Storage dtype float16 by default (the SAE trains in float32 on the rows it draws).

The cache directory is keyed by the spec (:func:`replication.cache.cached_dir`, kind ``lm-activations``)
and written atomically; its ``manifest.json`` records the model's resolved config, the token counts and
the BOS rule.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from replication.cache import artefact_path, cached_dir, is_built
from replication.io import write_json_atomic
from replication.lm.hooks import hook_activations, hook_components, special_token_ids, stop_layer
from replication.lm.load import best_device, load_lm, missing_items, model_availability
from replication.lm.text import TEXT_ENV, TextSource, text_windows

__all__ = ["ActivationCacheSpec", "CachedActivations", "LMActivations", "activation_cache_dir", "build_activation_cache",
           "hook_components", "special_token_ids"]

_DTYPES = {"float16": np.float16, "float32": np.float32}
CACHE_KIND = "lm-activations"


@dataclass(frozen=True)
class ActivationCacheSpec:
    """Which model, hooks, text and how many tokens to cache."""

    model: str
    """A transformer-lens official name, a hub id (``loader="bridge"``) or a local ``save_pretrained`` dir."""
    hooks: tuple[str, ...]
    text: TextSource
    train_tokens: int
    heldout_tokens: int
    eval_text: TextSource | None = None
    loader: str = "hooked"
    model_dtype: str = "float32"
    ctx_len: int = 1024
    batch_size: int = 8
    """Contexts per forward pass."""
    store_dtype: str = "float16"
    name: str = field(default="", compare=False)
    """For messages and progress bars only (not part of the cache key)."""

    def __post_init__(self) -> None:
        if not self.hooks:
            raise ValueError("an activation cache needs at least one hook")
        for hook in self.hooks:
            hook_components(hook)
        if self.store_dtype not in _DTYPES:
            raise ValueError(f"store_dtype must be one of {sorted(_DTYPES)}, got {self.store_dtype!r}")
        if min(self.train_tokens, self.heldout_tokens, self.ctx_len, self.batch_size) <= 0:
            raise ValueError(f"token counts, ctx_len and batch_size must be positive: {self}")

    def key(self) -> dict[str, Any]:
        """The JSON configuration that keys the cache directory (and every SAE trained on it)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.compare}
        out["hooks"] = list(self.hooks)
        out["text"] = dataclasses.asdict(self.text)
        out["eval_text"] = None if self.eval_text is None else dataclasses.asdict(self.eval_text)
        local = os.environ.get(TEXT_ENV)
        if local:  # a local folder replaces every text source: the cache is of that text
            out["local_text"] = str(Path(local).resolve())
        return out

    def cached_path(self) -> Path:
        """Where the cache of this spec lives (built or not)."""
        return artefact_path(CACHE_KIND, self.key())

    def is_cached(self) -> bool:
        return is_built(self.cached_path())

    def availability(self) -> str | None:
        """``None`` if the cache is built, or the model and the text can be had to build it; else what is missing."""
        if self.is_cached():
            return None
        return missing_items(model_availability(self.model, self.loader), self.text.availability(),
                             None if self.eval_text is None else self.eval_text.availability())


def _fill(model: Any, spec: ActivationCacheSpec, batches: Iterator[Tensor],
          arrays: dict[str, np.ndarray], n: int, exclude: tuple[int, ...], desc: str) -> int:
    from tqdm.auto import tqdm

    filled = 0
    with tqdm(total=n, desc=desc, unit="tok", unit_scale=True) as bar:
        for batch in batches:
            if filled >= n:
                break
            acts, _ = hook_activations(model, batch, spec.hooks, exclude)
            take = min(len(next(iter(acts.values()))), n - filled)
            for hook, act in acts.items():
                arrays[hook][filled:filled + take] = act[:take].numpy().astype(_DTYPES[spec.store_dtype])
            filled += take
            bar.update(take)
    return filled


def build_activation_cache(spec: ActivationCacheSpec, out: Path, device: str | None = None) -> dict[str, Any]:
    """Run ``spec.model`` over the text and write every hook's activations (special tokens excluded) into
    ``out`` (``<hook>.{train,heldout}.npy`` + ``manifest.json``). Fails, naming the shortfall, if the text
    holds fewer tokens than asked."""
    device = device or best_device()
    start = time.perf_counter()
    model = load_lm(spec.model, loader=spec.loader, dtype=getattr(torch, spec.model_dtype), device=device)
    tok = model.tokenizer
    if tok is None:
        raise ValueError(f"model {spec.model} has no tokenizer; cannot tokenise text for {spec.name or spec.model}")
    exclude = special_token_ids(tok)
    stop_layer(model, sorted({c for h in spec.hooks for c in hook_components(h)}))  # unknown hooks fail here
    d_model = int(model.cfg.d_model)

    def stream(text: TextSource, n_tokens: int) -> Iterator[Tensor]:
        # text_windows counts non-BOS tokens; one batch more covers pad tokens and the split boundary
        return text_windows(tok, text.texts(), n_tokens=n_tokens + spec.ctx_len * spec.batch_size,
                             ctx_len=spec.ctx_len, batch_size=spec.batch_size, bos_token_id=tok.bos_token_id)

    def memmaps(split: str, n: int) -> dict[str, np.ndarray]:
        return {h: np.lib.format.open_memmap(out / f"{h}.{split}.npy", mode="w+", dtype=_DTYPES[spec.store_dtype],
                                             shape=(n, d_model)) for h in spec.hooks}

    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    if spec.eval_text is None or os.environ.get(TEXT_ENV):  # one text: held-out first, then train
        batches = stream(spec.text, spec.heldout_tokens + spec.train_tokens)
        splits = (("heldout", spec.heldout_tokens, batches), ("train", spec.train_tokens, batches))
    else:
        splits = (("heldout", spec.heldout_tokens, stream(spec.eval_text, spec.heldout_tokens)),
                  ("train", spec.train_tokens, stream(spec.text, spec.train_tokens)))
    for split, n, batches in splits:
        arrays = memmaps(split, n)
        counts[split] = _fill(model, spec, batches, arrays, n, exclude, f"{spec.name or spec.model} {split}")
        for arr in arrays.values():
            arr.flush()
        del arrays
        if counts[split] < n:
            raise ValueError(f"{spec.name or spec.model}: the text gave only {counts[split]} {split} tokens "
                             f"(special tokens excluded) of the {n} asked for")
    manifest = {
        "hooks": list(spec.hooks), "dtype": spec.store_dtype, "d_model": d_model, "spec": spec.key(),
        "excluded_token_ids": list(exclude),
        "bos_rule": "positions whose input token is BOS or pad are excluded (every context starts with BOS)",
        "splits": {s: {"tokens": c} for s, c in counts.items()},
        "model_config": {k: str(v) for k, v in vars(model.cfg).items() if not k.startswith("_")},
        "device": device, "seconds": time.perf_counter() - start,
    }
    write_json_atomic(out / "manifest.json", manifest)
    return manifest


class CachedActivations:
    """Cached LM activations of one hook, as a ``TrainingData`` (``d_in``, ``config()``, ``sample(n, generator)``).

    SAEs trained on it train on ``device`` (default :func:`~replication.device.best_device`: CUDA when torch
    sees a GPU; :func:`replication.training.data_device` reads it, and a non-CPU device joins the SAE's cache
    key); rows are drawn on the CPU and sae-lens's trainer moves each batch there.

    ``sample`` draws rows of the train cache uniformly at random with replacement (float32);
    ``eval_batch(n)`` returns the first ``n`` rows of the held-out cache (deterministic). ``config()``
    names the hook and the sha256 of the cached train file, so an SAE cached by ``train_sae`` is
    retrained whenever the LM or the cache changes.
    """

    def __init__(self, directory: Path, hook_name: str, device: str | None = None):
        self.directory = Path(directory)
        self.device = device or best_device()
        manifest_path = self.directory / "manifest.json"
        if not manifest_path.exists():
            raise FileNotFoundError(f"{manifest_path} is missing: cache the activations first "
                                    f"(`dvc repro tinylm-activations@full`, or `@smoke` for CI)")
        self.manifest = json.loads(manifest_path.read_text())
        if hook_name not in self.manifest["hooks"]:
            raise KeyError(f"hook {hook_name!r} is not cached in {self.directory}; cached: {self.manifest['hooks']}")
        self.hook_name = hook_name
        self.d_in: int = int(self.manifest["d_model"])
        self._train = np.load(self.directory / f"{hook_name}.train.npy", mmap_mode="r")
        self._heldout = np.load(self.directory / f"{hook_name}.heldout.npy", mmap_mode="r")

    @property
    def n_train(self) -> int:
        return int(self._train.shape[0])

    @property
    def n_heldout(self) -> int:
        return int(self._heldout.shape[0])

    def config(self) -> dict[str, Any]:
        name = f"{self.hook_name}.train.npy"
        return {"kind": "tinylm-activations", "hook_name": self.hook_name, "d_in": self.d_in,
                "dtype": self.manifest["dtype"], "n_train": self.n_train,
                "train_sha256": self.manifest["files"][name], "lm_sha256": self.manifest["lm_sha256"]}

    def sample(self, n: int, generator: torch.Generator) -> Float[Tensor, "n d_in"]:
        rows = torch.randint(0, self.n_train, (n,), generator=generator).numpy()
        return torch.from_numpy(np.asarray(self._train[rows], dtype=np.float32))

    def eval_batch(self, n: int | None = None) -> Float[Tensor, "n d_in"]:
        """The first ``n`` held-out rows (all if ``None``) as float32."""
        if n is not None and n > self.n_heldout:
            raise ValueError(f"asked for {n} held-out rows; the cache holds {self.n_heldout}")
        return torch.from_numpy(np.asarray(self._heldout[: n if n is not None else self.n_heldout], dtype=np.float32))

    def heldout_chunks(self, rows: int = 65_536) -> Iterator[Float[Tensor, "rows d_in"]]:
        """Every held-out row, ``rows`` at a time (a dead-latent window larger than memory would allow)."""
        for start in range(0, self.n_heldout, rows):
            yield torch.from_numpy(np.asarray(self._heldout[start:start + rows], dtype=np.float32))

    def tokens(self, split: str) -> Int[Tensor, "n"]:
        """The input token at each cached row of ``split`` (the rows of every hook align)."""
        return torch.from_numpy(np.load(self.directory / f"tokens.{split}.npy").astype(np.int64))

    def index(self, split: str) -> Int[Tensor, "n 2"]:
        """``(window, position)`` of each cached row of ``split`` in :func:`replication.tinylm.window_batches` order."""
        return torch.from_numpy(np.load(self.directory / f"index.{split}.npy").astype(np.int64))



def activation_cache_dir(spec: ActivationCacheSpec) -> Path:
    """The cache of ``spec``: built now (atomically) if absent."""
    missing = spec.availability()  # None once built: a warm cache needs neither the model nor the text
    if missing:
        raise FileNotFoundError(f"{spec.name or spec.model}: {missing}")
    return cached_dir(CACHE_KIND, spec.key(), lambda tmp: build_activation_cache(spec, tmp))


class LMActivations:
    """One hook of an :class:`ActivationCacheSpec` as a ``TrainingData`` for :func:`replication.training.
    train_sae`: ``sample`` draws train rows uniformly with replacement (float32, CPU);
    ``eval_batch(n)`` gives the first ``n`` held-out rows. The cache is built on first use, not before:
    ``config()`` (the key of every SAE trained on it) needs only the spec. SAEs train on ``device``
    (CUDA when available): sae-lens's trainer moves each batch there."""

    def __init__(self, spec: ActivationCacheSpec, hook: str, device: str | None = None):
        if hook not in spec.hooks:
            raise KeyError(f"hook {hook!r} is not in the cache spec {spec.name or spec.model}: {spec.hooks}")
        self.spec, self.hook = spec, hook
        self.device = device or best_device()
        self._cached: Any = None

    def _data(self) -> Any:
        if self._cached is None:
            self._cached = CachedActivations(activation_cache_dir(self.spec), self.hook)
        return self._cached

    @property
    def d_in(self) -> int:
        return self._data().d_in

    def config(self) -> dict[str, Any]:
        return {"kind": "lm-activations", "cache": self.spec.key(), "hook": self.hook}

    def sample(self, n: int, generator: torch.Generator) -> Float[Tensor, "n d_in"]:
        return self._data().sample(n, generator)

    @property
    def n_heldout(self) -> int:
        return self._data().n_heldout

    def eval_batch(self, n: int | None = None) -> Float[Tensor, "n d_in"]:
        return self._data().eval_batch(n)

    def heldout_chunks(self, rows: int = 65_536) -> Iterator[Float[Tensor, "rows d_in"]]:
        """Every held-out row, ``rows`` at a time (the real tier's dead-latent window, >= 1M tokens)."""
        return self._data().heldout_chunks(rows)

    def manifest(self) -> dict[str, Any]:
        return json.loads((self._data().directory / "manifest.json").read_text())
