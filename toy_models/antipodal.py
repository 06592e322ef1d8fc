"""Sparse features plus one dense, signed signal along a dark direction of a toy unembedding.

The antipodal paper (§3.2) finds that dense SAE latents come in antipodal pairs reconstructing a dense
signal along ``U_{-1}``, the bottom left singular vector of ``W_U``, and that this signal goes with the
output entropy through the final LayerNorm (the confidence-regulation mechanism of Stolfo et al., 2024).
This toy plants exactly that structure, and nothing else:

- ``n_features`` sparse features with unit directions in ``u``'s orthogonal complement (sae-lens's
  ``FeatureDictionary``, then ``u`` projected out), Zipfian firing probabilities in
  ``[min_firing_prob, max_firing_prob]`` (sae-lens's ``zipfian_firing_probabilities``: a few frequent, many
  rare features, as in LMs; ``max_firing_prob`` below the paper's "dense" line 0.1, so that in this toy
  only the planted signal is dense) and magnitudes ``max(0, N(1, 0.25^2))``;
- one dense signed signal ``z u`` on every token, ``z ~ N(dense_mean, dense_std^2)`` (``dense_mean > 0``
  so both signs occur, unequally often, as in the paper's GPT-2/LLaMA pairs of App B);
- isotropic Gaussian noise of std ``noise_std`` on every coordinate, so that every direction (``u`` in the
  negative control too) carries some variance and every correlation is defined;
- a toy unembedding ``W_U`` (``d_in x d_vocab``) = ``U diag(sigma) V^T`` whose last left singular vector
  is ``u``, with the smallest singular value ``dark_singular_value``, and logits
  ``LayerNorm(x) @ W_U`` (parameter-free LayerNorm, as a final norm folded into ``W_U``).

``u`` is orthogonal to the all-ones vector, so LayerNorm's centring keeps it. With ``dense=False`` the data
is the same without the dense signal: the negative control.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from toy_models.sparse import unit_directions


@dataclass(frozen=True)
class AntipodalToy:
    d_in: int = 32
    n_features: int = 128
    max_firing_prob: float = 0.08
    min_firing_prob: float = 0.01
    mean_magnitude: float = 1.0
    std_magnitude: float = 0.25
    dense: bool = True
    """Plant the dense signal (False: the negative control)."""
    dense_mean: float = 0.5
    dense_std: float = 1.0
    noise_std: float = 0.05
    d_vocab: int = 256
    dark_singular_value: float = 0.05
    seed: int = 0
    """Seed of the directions and of ``W_U`` (the data set itself); samples come from the caller's generator."""

    def config(self) -> dict[str, Any]:
        return {"kind": "antipodal-dense-signal", **asdict(self)}

    def _generator(self, salt: int) -> torch.Generator:
        return torch.Generator().manual_seed(1_000 * self.seed + salt)

    @cached_property
    def u(self) -> Float[Tensor, " d_in"]:
        """The dark direction: a random unit vector orthogonal to the all-ones vector."""
        v = torch.randn(self.d_in, generator=self._generator(1), dtype=torch.float64)
        v = v - v.mean()
        return (v / v.norm()).to(torch.float32)

    @cached_property
    def directions(self) -> Float[Tensor, "n_features d_in"]:
        """Unit sparse-feature directions in the orthogonal complement of ``u``."""
        d = unit_directions(self.n_features, self.d_in, self.seed).to(torch.float64)
        u = self.u.to(torch.float64)
        d = d - (d @ u)[:, None] * u[None, :]
        return (d / d.norm(dim=1, keepdim=True)).to(torch.float32)

    @cached_property
    def firing_probs(self) -> Float[Tensor, " n_features"]:
        from sae_lens.synthetic.firing_probabilities import zipfian_firing_probabilities

        return zipfian_firing_probabilities(self.n_features, max_prob=self.max_firing_prob,
                                            min_prob=self.min_firing_prob)

    @cached_property
    def W_U(self) -> Float[Tensor, "d_in d_vocab"]:
        """``U diag(sigma) V^T``: ``U[:, -1] = u``; sigma linear from 1.5 to 0.5, then ``dark_singular_value``."""
        if self.d_vocab < self.d_in:
            raise ValueError(f"d_vocab ({self.d_vocab}) must be >= d_in ({self.d_in}) for a unique U[:, -1]")
        g = self._generator(2)
        basis = torch.cat([self.u.to(torch.float64)[:, None],
                           torch.randn(self.d_in, self.d_in - 1, generator=g, dtype=torch.float64)], dim=1)
        q, _ = torch.linalg.qr(basis)
        U = torch.cat([q[:, 1:], self.u.to(torch.float64)[:, None]], dim=1)  # q[:, 0] = +-u: put u last
        v, _ = torch.linalg.qr(torch.randn(self.d_vocab, self.d_in, generator=g, dtype=torch.float64))
        sigma = torch.cat([torch.linspace(1.5, 0.5, self.d_in - 1, dtype=torch.float64),
                           torch.tensor([self.dark_singular_value], dtype=torch.float64)])
        return ((U * sigma) @ v.T).to(torch.float32)

    def sample_dense(self, n: int, generator: torch.Generator) -> Float[Tensor, " n"]:
        """The dense signal's value ``z`` on each token (zeros for the control)."""
        z = self.dense_mean + self.dense_std * torch.randn(n, generator=generator)
        return z if self.dense else torch.zeros(n)

    def sample_features(self, n: int, generator: torch.Generator) -> Float[Tensor, "n n_features"]:
        fires = torch.rand(n, self.n_features, generator=generator) < self.firing_probs
        mags = self.mean_magnitude + self.std_magnitude * torch.randn(n, self.n_features, generator=generator)
        return fires * mags.clamp(min=0.0)

    def sample(self, n: int, generator: torch.Generator) -> Float[Tensor, "n d_in"]:
        features = self.sample_features(n, generator)
        z = self.sample_dense(n, generator)
        noise = self.noise_std * torch.randn(n, self.d_in, generator=generator)
        return features @ self.directions + z[:, None] * self.u[None, :] + noise

    def logits(self, x: Float[Tensor, "n d_in"]) -> Float[Tensor, "n d_vocab"]:
        """``LayerNorm(x) @ W_U``: the final norm makes output entropy depend on ``||x||``."""
        return torch.nn.functional.layer_norm(x, (self.d_in,)) @ self.W_U
