"""CE loss recovered: an LM's next-token loss with an SAE's reconstruction spliced in at a hook (App. B of
the bimodality paper; sae-lens's ``evals.get_recons_loss``, as SAEBench)."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from replication.lm.hooks import counted_positions
from replication.metrics import ce_loss_recovered


class SplicedLosses(NamedTuple):
    """Mean next-token cross-entropy (nats) of an LM on the same tokens, three ways (App. B)."""

    h_orig: float
    """The model's own loss."""
    h_zero: float
    """With the activation at the hook zeroed at every position."""
    h_star: dict[Any, float]
    """With each SAE's reconstruction spliced in at the hook (key: the key of ``saes``)."""

    def recovered(self, key: Any) -> float:
        """CE loss recovered ``(H* - H_0) / (H_orig - H_0)`` of one SAE (replication.metrics.ce_loss_recovered)."""
        return float(ce_loss_recovered(torch.tensor(self.h_star[key], dtype=torch.float64),
                                       torch.tensor(self.h_zero, dtype=torch.float64),
                                       torch.tensor(self.h_orig, dtype=torch.float64)))


def _summed_loss(model: Any, resid: Tensor, tokens: Tensor, layer: int, hooks: list) -> float:
    """Sum over positions of the next-token loss, the forward resumed at block ``layer`` from ``resid``."""
    loss = model.run_with_hooks(resid, start_at_layer=layer, tokens=tokens, return_type="loss",
                                loss_per_token=True, fwd_hooks=hooks)
    return float(loss.double().sum())


def _zero_hook(act: Tensor, hook: Any) -> Tensor:  # noqa: ARG001
    return torch.zeros_like(act)


def _splice_hook(sae: Any, keep: Tensor) -> Any:
    """A hook replacing the activation by the SAE's reconstruction where ``keep`` (batch, pos) is True."""

    def hook_fn(act: Tensor, hook: Any) -> Tensor:  # noqa: ARG001
        w = getattr(sae, "W_dec", None)  # a float32 SAE on a bfloat16 model: encode in the SAE's dtype
        recon = sae.decode(sae.encode(act if w is None else act.to(w.dtype))).to(act.dtype)
        return torch.where(keep[..., None], recon, act)

    return hook_fn


@torch.no_grad()
def spliced_losses(model: Any, hook_name: str, saes: dict[Any, Any], batches: Any,
                   ignore_tokens: tuple[int, ...] = ()) -> SplicedLosses:
    """H_orig, H_0 and each SAE's H* of a transformer-lens ``HookedTransformer`` on token ``batches``.

    As sae-lens's ``evals.get_recons_loss`` (the CE recovered of SAEBench, which the paper's §5.1 follows):
    a forward hook at ``hook_name`` replaces the activation by ``sae.decode(sae.encode(x))`` at every
    position whose input token is not in ``ignore_tokens`` (those keep the original activation: an SAE
    trained without them does not see them), and zero-ablation replaces it by 0 at every position. The loss
    is transformer-lens's next-token cross-entropy averaged over every predicted position of every window.
    ``hook_name`` must be a hook of block ``L`` (``blocks.L.hook_*``): the blocks before ``L`` do not depend
    on the splice, so they run once per batch (``stop_at_layer=L``) and every spliced forward resumes at
    block ``L`` from that residual stream (``start_at_layer=L``): the same logits as a full forward with the
    hook, at a fraction of the cost.
    """
    parts = hook_name.split(".")
    if len(parts) < 3 or parts[0] != "blocks" or not parts[1].isdigit():
        raise ValueError(f"hook_name must be a block hook like 'blocks.3.hook_resid_post', got {hook_name!r}")
    if hook_name not in model.hook_dict:
        raise KeyError(f"the model has no hook {hook_name!r}")
    layer = int(parts[1])
    total = {"orig": 0.0, "zero": 0.0}
    star = dict.fromkeys(saes, 0.0)
    n = 0
    for tokens in batches:
        keep = counted_positions(tokens, ignore_tokens)
        resid = model(tokens, stop_at_layer=layer)  # the residual stream entering block ``layer``
        total["orig"] += _summed_loss(model, resid, tokens, layer, [])
        total["zero"] += _summed_loss(model, resid, tokens, layer, [(hook_name, _zero_hook)])
        for key, sae in saes.items():
            star[key] += _summed_loss(model, resid, tokens, layer, [(hook_name, _splice_hook(sae, keep))])
        n += tokens.shape[0] * (tokens.shape[1] - 1)
    if n == 0:
        raise ValueError("spliced_losses got no token batch")
    return SplicedLosses(total["orig"] / n, total["zero"] / n, {k: v / n for k, v in star.items()})
