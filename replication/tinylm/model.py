"""The tiny LM: a GPT-2-architecture ``HookedTransformer``, its checkpoint format, and its input windows.

Architecture (``params.yaml`` ``tinylm.<profile>.lm``: ``n_layers``, ``d_model``, ``n_heads``, ``n_ctx``):
exactly GPT-2's, so that the checkpoint is a plain ``transformers`` GPT-2 directory: pre-LayerNorm
(eps 1e-5), learned absolute positions, ``gelu_new`` MLPs of width ``4 d_model``, biases, no dropout, and
an unembedding ``W_U`` (``d_model x d_vocab``) that is a separate parameter from the embedding ``W_E``
(untied, ``tie_word_embeddings=False``; as in the papers' Gemma/Llama models) with no bias (``b_U`` is
frozen at 0: GPT-2's ``lm_head`` has none). It is trained as a transformer-lens ``HookedTransformer``
(transformer-lens's own initialisation, seeded).

Checkpoint format (a directory): a ``transformers`` ``GPT2LMHeadModel.save_pretrained`` directory
(``config.json``, ``model.safetensors``) plus the tokenizer (``tokenizer.json``, ``tokenizer_config.json``).
It is read by the same loader as the real tier's local models,
:func:`replication.lm.load.load_hooked_transformer` (transformer-lens's GPT-2 conversion, no weight
processing): :func:`load_tinylm` is that call. ``export_gpt2`` is the exact inverse of transformer-lens's
``convert_gpt2_weights``; a unit test checks that a saved and reloaded model gives the same logits.

Input windows: a token stream (``<|bos|>`` + tokens per document, concatenated) is cut into windows of
``n_ctx`` tokens, each ``<|bos|>`` followed by the next ``n_ctx - 1`` tokens of the stream, so position 0
is always BOS (and a document that starts inside a window starts with BOS too).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jaxtyping import Int
from torch import Tensor

from replication.tinylm.tokenizer import BOS_ID

ARCHITECTURE_KEYS = ("n_layers", "d_model", "n_heads", "n_ctx")
LN_EPS = 1e-5  # GPT-2's layer_norm_epsilon
ACT_FN = "gelu_new"  # GPT-2's activation_function


def config_kwargs(params: Mapping[str, Any], d_vocab: int) -> dict[str, Any]:
    """``HookedTransformerConfig`` keyword arguments of a GPT-2-architecture model (see the module docstring)."""
    missing = [k for k in ARCHITECTURE_KEYS if k not in params]
    if missing:
        raise KeyError(f"lm parameters lack {missing}")
    d_model, n_heads = int(params["d_model"]), int(params["n_heads"])
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
    return {
        "n_layers": int(params["n_layers"]), "d_model": d_model, "n_heads": n_heads,
        "d_head": d_model // n_heads, "d_mlp": 4 * d_model, "n_ctx": int(params["n_ctx"]),
        "d_vocab": int(d_vocab), "act_fn": ACT_FN, "eps": LN_EPS, "normalization_type": "LN",
        "positional_embedding_type": "standard", "original_architecture": "GPT2LMHeadModel",
        "default_prepend_bos": True, "seed": int(params.get("seed", 0)), "device": "cpu",
        "model_name": "sae-replication-tinylm",
    }


def build_model(kwargs: Mapping[str, Any], tokenizer: Any | None = None) -> Any:
    """A freshly initialised ``HookedTransformer`` (transformer-lens's init, seeded by ``kwargs['seed']``),
    with ``b_U`` frozen at zero (GPT-2 has no unembedding bias)."""
    import warnings

    from transformer_lens import HookedTransformer, HookedTransformerConfig

    with warnings.catch_warnings():  # "HookedTransformer is deprecated ... TransformerBridge": not for a custom model
        warnings.simplefilter("ignore", DeprecationWarning)
        model = HookedTransformer(HookedTransformerConfig(**dict(kwargs)), tokenizer=tokenizer)
    with torch.no_grad():
        model.unembed.b_U.zero_()
    model.unembed.b_U.requires_grad_(False)
    model.eval()
    return model


def export_gpt2(model: Any) -> Any:
    """The ``transformers`` ``GPT2LMHeadModel`` with ``model``'s weights: the inverse of transformer-lens's
    ``convert_gpt2_weights`` (``W_Q/W_K/W_V`` concatenated into ``c_attn``; ``W_U`` transposed into ``lm_head``)."""
    import einops
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = model.cfg
    if float(model.unembed.b_U.abs().max()) != 0.0:
        raise ValueError("b_U is not zero: GPT-2's lm_head has no bias, so this model cannot be exported")
    hf_cfg = GPT2Config(vocab_size=cfg.d_vocab, n_positions=cfg.n_ctx, n_ctx=cfg.n_ctx, n_embd=cfg.d_model,
                        n_layer=cfg.n_layers, n_head=cfg.n_heads, n_inner=cfg.d_mlp, activation_function=cfg.act_fn,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=cfg.eps,
                        tie_word_embeddings=False, bos_token_id=BOS_ID, eos_token_id=BOS_ID,
                        architectures=["GPT2LMHeadModel"])
    hf = GPT2LMHeadModel(hf_cfg)
    sd = model.state_dict()
    new = {"transformer.wte.weight": sd["embed.W_E"], "transformer.wpe.weight": sd["pos_embed.W_pos"],
           "transformer.ln_f.weight": sd["ln_final.w"], "transformer.ln_f.bias": sd["ln_final.b"],
           "lm_head.weight": sd["unembed.W_U"].T}
    for layer in range(cfg.n_layers):
        b, h = f"blocks.{layer}.", f"transformer.h.{layer}."
        new[h + "ln_1.weight"], new[h + "ln_1.bias"] = sd[b + "ln1.w"], sd[b + "ln1.b"]
        new[h + "ln_2.weight"], new[h + "ln_2.bias"] = sd[b + "ln2.w"], sd[b + "ln2.b"]
        new[h + "attn.c_attn.weight"] = torch.cat(
            [einops.rearrange(sd[b + f"attn.W_{x}"], "i m h -> m (i h)") for x in "QKV"], dim=1)
        new[h + "attn.c_attn.bias"] = torch.cat([sd[b + f"attn.b_{x}"].reshape(-1) for x in "QKV"])
        new[h + "attn.c_proj.weight"] = einops.rearrange(sd[b + "attn.W_O"], "i h m -> (i h) m")
        new[h + "attn.c_proj.bias"] = sd[b + "attn.b_O"]
        new[h + "mlp.c_fc.weight"], new[h + "mlp.c_fc.bias"] = sd[b + "mlp.W_in"], sd[b + "mlp.b_in"]
        new[h + "mlp.c_proj.weight"], new[h + "mlp.c_proj.bias"] = sd[b + "mlp.W_out"], sd[b + "mlp.b_out"]
    missing, unexpected = hf.load_state_dict({k: v.detach().clone().contiguous() for k, v in new.items()},
                                             strict=False)
    missing = [k for k in missing if not k.endswith(".attn.bias") and not k.endswith(".attn.masked_bias")]
    if missing or unexpected:
        raise RuntimeError(f"GPT-2 export: missing {missing}, unexpected {unexpected}")
    return hf.eval()


def save_lm(model: Any, tokenizer_dir: Path, directory: Path) -> None:
    """Write the checkpoint (see the module docstring) into ``directory`` (which must exist)."""
    import shutil

    from transformers.utils import logging as hf_logging

    directory = Path(directory)
    hf_logging.disable_progress_bar()  # "Writing model shards" bars in every stage log
    export_gpt2(model).save_pretrained(str(directory))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(Path(tokenizer_dir) / name, directory / name)


def load_tinylm(path: Path | str | None = None, device: str = "cpu") -> Any:
    """The trained tiny LM (a ``HookedTransformer`` with its tokenizer, unprocessed weights), in eval mode.

    ``path`` is an LM checkpoint directory; by default the one of the profile in
    ``$SAE_REPLICATION_TINYLM_PROFILE`` (``full``): ``data/tinylm/<profile>/lm``. Loaded by
    :func:`replication.lm.load.load_hooked_transformer`, the real tier's loader.
    """
    import warnings

    from replication.lm.load import load_hooked_transformer
    from replication.tinylm.config import artifacts

    directory = Path(path) if path is not None else artifacts().lm
    if not (directory / "model.safetensors").exists():
        raise FileNotFoundError(f"{directory / 'model.safetensors'} is missing: train the tiny LM first "
                                f"(`dvc repro tinylm-lm@full`, or `@smoke` for the CI profile)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = load_hooked_transformer(str(directory), device=device)
    return model.eval()


def windows(stream: np.ndarray | Tensor, n_ctx: int) -> Int[Tensor, "n_windows n_ctx"]:
    """Cut a token stream into non-overlapping windows ``[BOS] + stream[i(n_ctx-1) : (i+1)(n_ctx-1)]``.

    The last partial chunk is dropped. Returns ``int64`` token ids.
    """
    if n_ctx < 2:
        raise ValueError(f"n_ctx must be >= 2, got {n_ctx}")
    flat = torch.as_tensor(np.asarray(stream, dtype=np.int64))
    step = n_ctx - 1
    n = flat.numel() // step
    if n == 0:
        raise ValueError(f"a stream of {flat.numel()} tokens holds no window of {n_ctx} tokens")
    body = flat[: n * step].view(n, step)
    return torch.cat([torch.full((n, 1), BOS_ID, dtype=torch.int64), body], dim=1)


def random_windows(stream: Tensor, n_ctx: int, batch_size: int, generator: torch.Generator
                   ) -> Int[Tensor, "batch n_ctx"]:
    """``batch_size`` windows ``[BOS] + stream[s : s + n_ctx - 1]`` at uniformly random offsets ``s``."""
    step = n_ctx - 1
    if stream.numel() <= step:
        raise ValueError(f"a stream of {stream.numel()} tokens is too short for n_ctx={n_ctx}")
    starts = torch.randint(0, stream.numel() - step, (batch_size,), generator=generator)
    body = stream[starts[:, None] + torch.arange(step)[None, :]]
    return torch.cat([torch.full((batch_size, 1), BOS_ID, dtype=torch.int64), body], dim=1)
