"""One loading path for language models and SAEs, shared by the tinylm and real tiers.

Models are loaded as transformer-lens ``HookedTransformer`` *without* weight processing (no LayerNorm
folding, no centring of W_U or of writing weights), so that activations are exactly the ones the SAEs were
trained on and ``W_U`` is the model's raw unembedding (shape ``d_model x d_vocab``). The final norm's weight
is therefore *not* folded into ``W_U``; :func:`unembedding` can return the folded version too, and analyses
record which one they used.

- an official name (``gpt2``, ``google/gemma-2-2b``, ``meta-llama/Llama-3.1-8B``) goes through
  ``HookedTransformer.from_pretrained_no_processing`` and the Hugging Face hub or its local cache;
- a local directory written by ``transformers``' ``save_pretrained`` goes through transformer-lens's own
  conversion functions (``get_pretrained_model_config`` / ``get_pretrained_state_dict``), because
  transformer-lens 3.9's ``from_pretrained`` accepts only official names. This path is what the offline
  tests exercise with tiny GPT-2- and LLaMA-style models; transformer-lens infers Gemma 2 from the official
  name only, so a tiny Gemma-2 cannot be loaded this way (Gemma targets are exercised on a GPU machine).

Architectures transformer-lens's ``HookedTransformer`` does not implement (SmolLM3, of the sagsae paper) go
through transformer-lens 3's ``TransformerBridge.boot_transformers`` (``loader="bridge"``), which wraps the
Hugging Face model itself and exposes the same hook names (``blocks.L.hook_resid_mid``, ``hook_mlp_out``,
``hook_attn_out``, ...) and ``run_with_cache``; it works from a hub id or a local ``save_pretrained``
directory (the offline tests boot a tiny SmolLM3 that way). :func:`load_lm` picks the loader.

SAEs: sae-lens ``SAE.from_pretrained(release, sae_id)`` (hub or cache) or ``SAE.load_from_disk(path)``.

Availability is checked *before* loading: :func:`model_availability` / :func:`sae_availability` return
``None`` when the weights can be loaded here (in the local HF cache, or downloads allowed) and otherwise the
exact repo id, file and command that fetches them.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from replication.device import best_device  # noqa: F401  (where LM targets load their model and train SAEs)

ALLOW_DOWNLOAD_ENV = "SAE_REPLICATION_ALLOW_DOWNLOAD"


def downloads_allowed() -> bool:
    """Downloads from the hub are attempted only when asked for (``SAE_REPLICATION_ALLOW_DOWNLOAD=1``) and
    the hub is not switched off (``HF_HUB_OFFLINE``)."""
    return os.environ.get(ALLOW_DOWNLOAD_ENV) == "1" and os.environ.get("HF_HUB_OFFLINE", "0") in ("0", "")


def _in_hf_cache(repo_id: str, filename: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id=repo_id, filename=filename)
    return isinstance(found, str) and Path(found).exists()


def _hf_model_repo(name: str) -> str:
    """The hub repo id of a transformer-lens official model name or alias (``gpt2-small`` -> ``gpt2``)."""
    from transformer_lens.loading_from_pretrained import get_official_model_name

    return get_official_model_name(name)


LOADERS = ("hooked", "bridge")
"""``hooked``: ``HookedTransformer`` (official names, local GPT-2/LLaMA-style dirs); ``bridge``:
``TransformerBridge.boot_transformers`` (any architecture transformer-lens 3 has an adapter for)."""


def _check_loader(loader: str) -> None:
    if loader not in LOADERS:
        raise ValueError(f"unknown model loader {loader!r}; known: {', '.join(LOADERS)}")


def model_availability(name: str, loader: str = "hooked") -> str | None:
    """``None`` if ``name`` (an official model name, a hub id for the bridge, or a local directory) can be
    loaded here; else why not and how to fetch it."""
    _check_loader(loader)
    if Path(name).is_dir():
        return None if (Path(name) / "config.json").exists() else f"{name} has no config.json"
    if loader == "bridge":
        repo = name
    else:
        try:
            repo = _hf_model_repo(name)
        except ValueError:
            return f"{name!r} is neither a local model directory nor a transformer-lens official model name"
    if _in_hf_cache(repo, "config.json") or downloads_allowed():
        return None
    return (f"model weights {repo} are not in the Hugging Face cache ({_hf_cache_dir()}); fetch them with "
            f"`hf download {repo}` (gated models need HF_TOKEN and an accepted licence), then run with "
            f"HF_HUB_OFFLINE=1 — or set {ALLOW_DOWNLOAD_ENV}=1 on a machine with hub access")


def _hf_cache_dir() -> str:
    from huggingface_hub.constants import HF_HUB_CACHE

    return str(HF_HUB_CACHE)


def sae_availability(release: str, sae_id: str) -> str | None:
    """``None`` if sae-lens's pretrained SAE ``(release, sae_id)`` can be loaded here; else what is missing."""
    from sae_lens.loading.pretrained_saes_directory import get_pretrained_saes_directory

    directory = get_pretrained_saes_directory()
    if release not in directory:
        return f"sae-lens knows no release {release!r} (see sae_lens/pretrained_saes.yaml)"
    lookup = directory[release]
    if sae_id not in lookup.saes_map:
        return f"release {release!r} has no SAE id {sae_id!r}"
    path = lookup.saes_map[sae_id]
    if downloads_allowed():
        return None
    repo = lookup.repo_id
    # sae-lens's layouts differ per release: a folder with cfg.json/params, or a single file
    candidates = ([path] if Path(path).suffix else []) + [f"{path}/cfg.json", f"{path}/params.npz",
                                                          f"{path}/config.json", f"{path}/ae.pt"]
    if any(_in_hf_cache(repo, c) for c in candidates):
        return None
    return (f"SAE {release}/{sae_id} (hub repo {repo}, path {path}) is not in the Hugging Face cache "
            f"({_hf_cache_dir()}); fetch it with `hf download {repo} --include '{path}*'`, or set "
            f"{ALLOW_DOWNLOAD_ENV}=1 on a machine with hub access")


@contextmanager
def _config_transformer_lens_reads(name: str, hf_config: Any) -> Iterator[str]:
    """The directory whose ``config.json`` transformer-lens's conversion should read for the model in ``name``.

    transformer-lens 3.9 reads GPT-2's context length as ``hf_config.n_ctx``, which transformers 5 no longer
    writes (``GPT2Config`` keeps only ``n_positions``); for such a config, a temporary directory holding the
    same config with ``n_ctx = n_positions`` is given instead. Any other model reads ``name`` itself."""
    if getattr(hf_config, "model_type", None) != "gpt2" or hasattr(hf_config, "n_ctx"):
        yield name
        return
    patched = copy.deepcopy(hf_config)
    patched.n_ctx = patched.n_positions
    with tempfile.TemporaryDirectory(prefix="tl-config-") as tmp:
        patched.save_pretrained(tmp)
        yield tmp


def load_hooked_transformer(name: str, *, dtype: torch.dtype = torch.float32, device: str = "cpu") -> Any:
    """A ``HookedTransformer`` with unprocessed weights, from an official name or a local HF directory."""
    from transformer_lens import HookedTransformer

    if not Path(name).is_dir():
        missing = model_availability(name)
        if missing:
            raise FileNotFoundError(missing)
        return HookedTransformer.from_pretrained_no_processing(name, dtype=dtype, device=device)
    import transformer_lens.loading_from_pretrained as loading
    from transformers import AutoModelForCausalLM

    with _no_loading_bar():  # transformers' "Loading weights" bar, once per load, on every analysis' log
        hf_model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype)
    with _config_transformer_lens_reads(name, hf_model.config) as config_dir:
        cfg = loading.get_pretrained_model_config(config_dir, hf_cfg=hf_model.config.to_dict(), fold_ln=False,
                                                  device=device, dtype=dtype)
    cfg.model_name = Path(name).name
    tokenizer = None
    if (Path(name) / "tokenizer.json").exists() or (Path(name) / "tokenizer_config.json").exists():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(name)
    cfg.tokenizer_name = None  # the tokenizer, if any, is passed explicitly (no hub lookup by path)
    state_dict = loading.get_pretrained_state_dict(name, cfg, hf_model, dtype=dtype)
    model = HookedTransformer(cfg, tokenizer=tokenizer, move_to_device=False)
    model.load_and_process_state_dict(state_dict, fold_ln=False, center_writing_weights=False,
                                      center_unembed=False, fold_value_biases=False,
                                      refactor_factored_attn_matrices=False)
    return model.to(device, print_details=False)


@contextmanager
def _no_loading_bar() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def load_lm(name: str, *, loader: str = "hooked", dtype: torch.dtype = torch.float32, device: str = "cpu") -> Any:
    """A hooked language model with unprocessed weights: :func:`load_hooked_transformer` (``loader="hooked"``)
    or transformer-lens's ``TransformerBridge`` (``loader="bridge"``; it runs the Hugging Face modules
    themselves, so there are no weights to process)."""
    _check_loader(loader)
    if loader == "hooked":
        return load_hooked_transformer(name, dtype=dtype, device=device)
    missing = model_availability(name, loader)
    if missing:
        raise FileNotFoundError(missing)
    from transformer_lens.model_bridge import TransformerBridge

    return TransformerBridge.boot_transformers(name, device=device, dtype=dtype)


@dataclass(frozen=True)
class SAESource:
    """Where an SAE comes from: sae-lens's pretrained directory, or a folder written by ``save_model``."""

    release: str | None = None
    sae_id: str | None = None
    path: str | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.release is None or self.sae_id is None):
            raise ValueError("an SAESource is either (release, sae_id) or a path")

    def availability(self) -> str | None:
        if self.path is not None:
            return None if (Path(self.path) / "cfg.json").exists() else f"{self.path} has no cfg.json"
        assert self.release is not None and self.sae_id is not None
        return sae_availability(self.release, self.sae_id)

    def load(self, device: str = "cpu", dtype: str | None = None) -> Any:
        import replication.saes  # noqa: F401  (our architectures, for load_from_disk)
        from sae_lens import SAE

        missing = self.availability()
        if missing:
            raise FileNotFoundError(missing)
        if self.path is not None:
            sae = SAE.load_from_disk(self.path, device=device)
        else:
            sae = SAE.from_pretrained(self.release, self.sae_id, device=device)
        sae = sae.to(dtype=getattr(torch, dtype)) if dtype else sae
        check_loaded_sae(sae, str(self))
        return sae

    def __str__(self) -> str:
        return self.path if self.path is not None else f"{self.release}/{self.sae_id}"


def check_loaded_sae(sae: Any, source: str) -> None:
    """:func:`replication.checks.check_finite_weights` on a loaded SAE, the error naming where it came from."""
    from replication.checks import InvalidWeightsError, check_finite_weights

    try:
        check_finite_weights(sae)
    except InvalidWeightsError as err:
        raise InvalidWeightsError(f"SAE {source}: {err}") from None


def missing_items(*checks: str | None) -> str | None:
    """Every missing item of an availability check at once (``; ``-joined), or ``None`` if none is (pure)."""
    missing = [m for m in checks if m]
    return "; ".join(missing) if missing else None


def unembedding(model: Any, fold_final_norm: bool = False) -> torch.Tensor:
    """``W_U`` (``d_model x d_vocab``) of a HookedTransformer; with ``fold_final_norm``, the final norm's
    weight ``w`` multiplied in (``diag(w) W_U``), which is what the residual stream meets after
    normalisation. The antipodal paper takes the SVD of W_U without saying which; analyses record both."""
    W_U = model.W_U.detach()
    if not fold_final_norm:
        return W_U
    ln = getattr(model, "ln_final", None)
    w = getattr(ln, "w", None)
    return W_U if w is None else w.detach()[:, None] * W_U


def final_norm(model: Any) -> tuple[torch.Tensor | None, bool]:
    """``(effective gain, centres)`` of a HookedTransformer's final norm, for the processed reading of W_U
    (:func:`replication.metrics.antipodal.processed_unembedding`): the gain is ``ln_final.w`` (``1 + w``
    where the config says the RMSNorm scales by ``1 + w``), ``None`` if the norm has no weight; it centres
    iff it is a LayerNorm (``normalization_type`` ``LN``/``LNPre``), as TransformerLens's ``fold_ln``
    centres W_U only then."""
    norm_type = getattr(model.cfg, "normalization_type", None)
    w = getattr(getattr(model, "ln_final", None), "w", None)
    if w is not None:
        w = w.detach().float()
        if getattr(model.cfg, "rmsnorm_uses_offset", False):
            w = 1.0 + w
    return w, norm_type in ("LN", "LNPre")
