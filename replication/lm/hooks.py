"""Activations at transformer-lens hooks, with the rule for which token positions count.

One rule everywhere an LM runs: a position counts unless its input token is special (BOS, pad: the ids the
tokenizer has, :func:`special_token_ids`) or it is position 0 of a model that prepends BOS. Activations
at special positions are outliers of much larger norm that SAEs are not trained on (sae-lens's
``exclude_special_tokens`` does the same).

- :func:`hook_activations`: ``{hook: (n_counted, d)}`` of one batch of contexts, for activation caches; a
  hook may be a sum ``"a+b"`` of hook names of one forward pass (:func:`hook_components`).
- :func:`activation_stream`: :class:`ActivationBatch` items (the SAE's input, the mask, logits and every
  layer's residual stream) of token batches, for the analyses that stream a model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor


def special_token_ids(tokenizer: Any) -> tuple[int, ...]:
    """The token ids whose positions never count: BOS and pad (those the tokenizer has)."""
    return tuple(i for i in (getattr(tokenizer, "bos_token_id", None), getattr(tokenizer, "pad_token_id", None))
                 if i is not None)


def counted_positions(tokens: Int[Tensor, "batch pos"], exclude: Sequence[int],
                      drop_first: bool = False) -> Bool[Tensor, "batch pos"]:
    """``True`` where a position counts: its token is not in ``exclude``, and (``drop_first``) it is not
    position 0 (a model that prepends BOS)."""
    keep = torch.ones_like(tokens, dtype=torch.bool)
    if drop_first:
        keep[:, 0] = False
    for token_id in dict.fromkeys(exclude):
        keep &= tokens != token_id
    return keep


def hook_components(hook: str) -> tuple[str, ...]:
    """The transformer-lens hook names a hook expression sums (``"a+b"`` -> ``("a", "b")``)."""
    parts = tuple(p.strip() for p in hook.split("+"))
    if not all(parts):
        raise ValueError(f"malformed hook expression {hook!r}: expected 'name' or 'name+name'")
    return parts


def stop_layer(model: Any, names: Sequence[str]) -> int | None:
    """One past the last block the hook ``names`` read (the rest of the model need not run), after checking
    every name against the model; ``None`` if a name is outside the blocks."""
    known = set(model.hook_dict)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown hooks {unknown}; this model has e.g. "
                       f"{sorted(k for k in known if k.startswith('blocks.0.'))[:8]}")
    layers = [int(n.split(".")[1]) for n in names if n.startswith("blocks.") and n.split(".")[1].isdigit()]
    return max(layers) + 1 if len(layers) == len(names) else None


@torch.no_grad()
def hook_activations(model: Any, tokens: Int[Tensor, "batch pos"], hooks: Sequence[str],
                     exclude: Sequence[int]) -> tuple[dict[str, Float[Tensor, "n d"]], Bool[Tensor, "batch pos"]]:
    """``({hook: (n_counted, d)}, keep)``: each hook expression's activations (float32, CPU) at the counted
    positions of ``tokens`` (:func:`counted_positions` with ``exclude``), flattened over (batch, pos) in row
    order, and the ``(batch, pos)`` mask of those positions."""
    names = sorted({c for h in hooks for c in hook_components(h)})
    device = next(model.parameters()).device
    _, cache = model.run_with_cache(tokens.to(device), names_filter=lambda n: n in names,
                                    stop_at_layer=stop_layer(model, names), return_type=None)
    keep = counted_positions(tokens, exclude).to(device)
    out = {}
    for hook in hooks:
        parts = hook_components(hook)
        act = cache[parts[0]].float()
        for p in parts[1:]:
            act = act + cache[p].float()
        out[hook] = act[keep].cpu()
    return out, keep.cpu()


class ActivationBatch(NamedTuple):
    """One batch of an activation stream, batch and position flattened."""

    resid: Float[Tensor, "tokens d_model"]
    """The SAE's input at its hook."""
    mask: Bool[Tensor, " tokens"]
    """True on the tokens that count (:func:`counted_positions`)."""
    logits: Float[Tensor, "tokens d_vocab"] | None = None
    """The model's output logits at the same tokens."""
    layer_resids: Float[Tensor, "n_layers tokens d_model"] | None = None
    """``hook_resid_post`` of every layer at the same tokens."""
    entropy: Float[Tensor, " counted"] | None = None
    """The output entropy (nats) at the counted tokens, where a stream holds it instead of the logits
    (:func:`held_in_memory`)."""


def held_in_memory(stream: Iterable[ActivationBatch],
                   entropy: Callable[[Tensor], Tensor]) -> tuple[ActivationBatch, ...]:
    """A stream kept for several passes (one model pass for every SAE read on it): each batch's logits
    replaced by ``entropy(logits[mask])``, all an analysis reads of them (the logits of a whole split, tokens x
    vocabulary, would not fit in memory)."""
    return tuple(b._replace(logits=None, entropy=None if b.logits is None else entropy(b.logits[b.mask]))
                 for b in stream)


def activation_stream(model: Any, hook_name: str, token_batches: Iterable[Tensor], *,
                      with_layers: bool = False) -> Iterator[ActivationBatch]:
    """The stream of a transformer-lens model on ``token_batches`` (``(batch, pos)`` ids): the activation at
    ``hook_name``, the mask of counted positions (the tokenizer's special ids; position 0 where the model
    prepends BOS), the model's own logits (final norm and ``W_U`` included) and, if asked,
    ``blocks.{l}.hook_resid_post`` of every layer."""
    layer_names = [f"blocks.{layer}.hook_resid_post" for layer in range(model.cfg.n_layers)] if with_layers else []
    wanted = {hook_name, *layer_names}
    special = special_token_ids(getattr(model, "tokenizer", None))
    for tokens in token_batches:
        if tokens.ndim != 2:
            raise ValueError(f"token batches must be (batch, pos), got shape {tuple(tokens.shape)}")
        with torch.no_grad():
            logits, cache = model.run_with_cache(tokens, names_filter=lambda name: name in wanted)
        mask = counted_positions(tokens, special, drop_first=getattr(model.cfg, "default_prepend_bos", False))
        layers = torch.stack([cache[n].flatten(0, 1) for n in layer_names]) if with_layers else None
        yield ActivationBatch(cache[hook_name].flatten(0, 1), mask.flatten().to(logits.device),
                              logits.flatten(0, 1), layers)
