"""Input checks shared by analyses: a clear error naming the problem, before any work is done."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class ShapeMismatchError(ValueError):
    """An SAE and the activations it is asked to encode do not fit together."""


class InvalidWeightsError(ValueError):
    """SAE weights that no metric can be computed on (NaN/inf, zero-norm decoder rows)."""


def check_sae_input(sae: Any, x: Tensor, *, name: str = "activations") -> None:
    """Raise :class:`ShapeMismatchError` unless ``x`` is ``(tokens, sae.cfg.d_in)``."""
    d_in = int(sae.cfg.d_in)
    if x.ndim != 2 or x.shape[-1] != d_in:
        raise ShapeMismatchError(f"{name} have shape {tuple(x.shape)} but the SAE expects (tokens, d_in={d_in}) "
                                 f"({type(sae).__name__}, d_sae={sae.cfg.d_sae}); was it trained on another "
                                 f"hook or model?")


def check_finite_weights(sae: Any) -> None:
    """Raise :class:`InvalidWeightsError` if any parameter is NaN/inf or a decoder row has zero norm."""
    for pname, param in sae.named_parameters():
        if not bool(torch.isfinite(param).all()):
            bad = int((~torch.isfinite(param)).sum())
            raise InvalidWeightsError(f"SAE parameter {pname} has {bad} non-finite entries (NaN/inf)")
    norms = sae.W_dec.detach().norm(dim=-1)
    zero = torch.nonzero(norms == 0).flatten()
    if len(zero):
        raise InvalidWeightsError(f"SAE decoder rows {zero[:10].tolist()} have zero norm ({len(zero)} in all); "
                                  f"decoder-direction metrics are undefined for them")
