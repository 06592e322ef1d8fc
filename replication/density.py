"""The density pass: per-latent fire counts of an SAE over a token stream, at the speed of its encoder GEMM.

:class:`FireCounter` gives exactly ``replication.metrics.fire_counts(sae.encode(x), mask)`` summed over the
batches of a stream (and, if asked, ``sae.encode(x)[:, columns][mask]`` of a few latents), without
materialising the activations. The naive pass spends about half its time outside the GEMM (on one CPU
thread, 31k tokens x 2304 -> 16k latents: ~0.55x the float32 GEMM rate, ``benchmarks/bench_kernels.py
--only density``): ``encode`` allocates five ``tokens x d_sae`` tensors (pre-activation, bias sum, ReLU,
threshold mask, product) and the count two more (``!= 0`` and the int64 sum over a bool), each a fresh
allocation that the kernel page-faults in, each a pass over memory. Here, for the SAEs whose activation is
elementwise in the pre-activation (sae-lens's inference ``JumpReLUSAE`` and ``StandardSAE``, unhooked):

1. ``pre = sae_in @ W_enc`` into a buffer kept across chunks and batches (``torch.matmul(out=)``), then
   ``pre += b_enc`` in place: the same two float32 operations ``encode`` does (``sae_in @ W_enc + b_enc``),
   so the pre-activations are bit-identical to ``encode``'s. (``torch.addmm`` would fuse the bias into the
   GEMM but rounds differently: 3 of 67M decisions flipped in a measurement at 4096 x 2304 -> 16k.)
2. ``torch.le(pre, t, out=pre)`` in place, with ``t = max(threshold, 0)`` (JumpReLU: ``relu(p) * (p >
   thr) != 0`` iff ``not p <= max(thr, 0)``, NaN included) or ``t = 0`` (ReLU): 1.0 where inactive.
3. ``inactive += pre.T @ ones``: a GEMV sums the 0/1 column counts in float32 (integers below 2^24: exact),
   and ``active = rows - inactive``.

Rows go in chunks of at most ``max_chunk_elements / d_sae`` for the GEMM (balanced, so no chunk is tiny:
MKL's GEMV path for one row rounds differently from its GEMM), and steps 1 (the bias) to 3 run on blocks of
``BLOCK_ELEMENTS / d_sae`` rows of the chunk, so each block is read from memory once and stays in cache for
the rest (the columns kept are copied out of the block before the compare). On CUDA the whole batch is one
chunk and one block (cuBLAS may choose another kernel for another row count). Any other SAE (TopK, gated,
this package's architectures, hooks
attached, mixed dtypes, a non-finite threshold) goes through ``sae.encode`` and
:func:`~replication.metrics.fire_counts`, which is the definition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor, nn

from replication.metrics import fire_counts

DEFAULT_CHUNK_ELEMENTS = 2**26
"""Pre-activations per chunk on CPU (256 MB of float32: 4096 rows of a 16k SAE). Measured on one thread
(2304 -> 16k): 256 rows ~0.85x the GEMM rate, 1024 ~0.92x, 2048-8192 ~0.95-1.0x."""

BLOCK_ELEMENTS = 2**18
"""Pre-activations per block of the elementwise passes on CPU (1 MB of float32, in L2: 16 rows of a 16k
SAE): the bias, the threshold compare and the count then read the GEMM's output from memory once, not three
times (measured: ~5% of the GEMM's time on the whole chunk, ~2-3% in blocks)."""


def _hooked(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks)


def _inactive_bound(sae: Any) -> Tensor | None:
    """``t`` with ``encode(x)[:, i] == 0`` iff ``pre[:, i] <= t[i]``, if ``sae.encode`` is elementwise in its
    pre-activation ``process_sae_in(x) @ W_enc + b_enc`` and computed in one dtype; else ``None``."""
    from sae_lens.saes.jumprelu_sae import JumpReLUSAE
    from sae_lens.saes.standard_sae import StandardSAE

    encode = getattr(type(sae), "encode", None)
    if encode not in (JumpReLUSAE.encode, StandardSAE.encode):
        return None
    if type(getattr(sae, "activation_fn", None)) is not nn.ReLU:
        return None
    if _hooked(sae.hook_sae_acts_pre) or _hooked(sae.hook_sae_acts_post):
        return None
    from torch.nn.modules import module as _module

    if _module._global_forward_hooks or _module._global_forward_pre_hooks:
        return None
    W_enc, b_enc = sae.W_enc, sae.b_enc
    if W_enc.dtype not in (torch.float32, torch.float64):  # the 0/1 sums below are exact to 2^24 rows, not bf16's 2^8
        return None
    if W_enc.ndim != 2 or b_enc.dtype != W_enc.dtype or b_enc.shape != W_enc.shape[1:]:
        return None
    with torch.no_grad():
        if encode is StandardSAE.encode:  # relu(p) != 0 iff not p <= 0 (NaN fires)
            return torch.zeros_like(b_enc)
        thr = sae.threshold.detach()
        if thr.dtype != W_enc.dtype or thr.shape != b_enc.shape or not bool(torch.isfinite(thr).all()):
            return None
        # relu(p) * (p > thr) != 0 iff p > 0 and p > thr, or p is NaN: iff not p <= max(thr, 0)
        return thr.clamp(min=0)


def _chunks(n: int, max_rows: int) -> list[tuple[int, int]]:
    """``[0, n)`` in ``ceil(n / max_rows)`` chunks of balanced sizes."""
    k = max(1, -(-n // max(1, max_rows)))
    size = -(-n // k)
    return [(i, min(i + size, n)) for i in range(0, n, size)]


class FireCounter:
    """Fire counts ``c_i = #{t : f_i(x_t) != 0}`` of ``sae`` over the batches passed to :meth:`update`.

    ``counts`` and ``n_tokens`` are exactly those of ``fire_counts(sae.encode(x), mask)`` and
    ``mask.sum()`` summed over the batches (see the module docstring for the fast path and when it
    applies); :meth:`update` also returns ``sae.encode(x)[:, columns][mask]`` (bit-identical), for the few
    latents whose activations the caller keeps.
    """

    def __init__(self, sae: Any, columns: Sequence[int] = (), max_chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
                 block_elements: int = BLOCK_ELEMENTS):
        self.sae = sae
        W_enc = sae.W_enc.detach()
        self.d_sae = int(W_enc.shape[-1])
        self.device = W_enc.device
        self.columns = torch.as_tensor(list(columns), dtype=torch.int64, device=self.device)
        self.max_chunk_elements, self.block_elements = max_chunk_elements, block_elements
        self.bound = _inactive_bound(sae)
        self.fast = self.bound is not None
        self.counts: Int[Tensor, " d_sae"] = torch.zeros(self.d_sae, dtype=torch.int64, device=self.device)
        self.n_tokens = 0
        self._pre: Tensor | None = None
        self._ones: Tensor | None = None
        self._inactive: Tensor | None = None

    def update(self, x: Float[Tensor, "tokens d_in"],
               mask: Bool[Tensor, " tokens"] | None = None) -> Float[Tensor, "kept n_columns"]:
        """Add the fire counts of ``x``'s tokens where ``mask`` (default: all); return ``f[:, columns][mask]``."""
        with torch.no_grad():
            if self.fast:
                sae_in = self.sae.process_sae_in(x.to(self.device))
                if sae_in.ndim == 2 and sae_in.dtype == self.sae.W_enc.dtype:
                    return self._update_fast(sae_in, mask)
            f = self.sae.encode(x)
            keep = torch.ones(len(f), dtype=torch.bool, device=f.device) if mask is None else mask.to(f.device)
            self.counts += fire_counts(f, keep).to(self.device)
            self.n_tokens += int(keep.sum())
            return f[:, self.columns.to(f.device)][keep]

    def _buffers(self, rows: int, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
        """The chunk's pre-activations, ones, and the inactive counts: kept across chunks and batches."""
        if self._pre is None or self._pre.shape[0] < rows or self._pre.dtype != dtype:
            self._pre = torch.empty(rows, self.d_sae, dtype=dtype, device=self.device)
            self._ones = torch.ones(rows, dtype=dtype, device=self.device)
            self._inactive = torch.empty(self.d_sae, dtype=dtype, device=self.device)
        assert self._ones is not None and self._inactive is not None
        return self._pre[:rows], self._ones[:rows], self._inactive

    def _update_fast(self, sae_in: Tensor, mask: Tensor | None) -> Tensor:
        sae = self.sae
        W_enc, b_enc, bound = sae.W_enc.detach(), sae.b_enc.detach(), self.bound
        assert bound is not None
        if mask is not None:
            mask = mask.to(self.device)
            if mask.shape != sae_in.shape[:1] or mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool tensor of shape ({sae_in.shape[0]},), got "
                                 f"{mask.dtype} {tuple(mask.shape)}")
            if not bool(mask.all()):
                sae_in = sae_in[mask]
        n = sae_in.shape[0]
        cuda = self.device.type == "cuda"
        max_rows = n if cuda else self.max_chunk_elements // max(1, self.d_sae)
        max_rows = min(max(1, max_rows), 2**24)  # float32 sums of 0/1 are exact to 2^24
        block_rows = max_rows if cuda else max(1, self.block_elements // max(1, self.d_sae))
        kept = torch.empty(n, len(self.columns), dtype=sae_in.dtype, device=self.device)
        for start, stop in _chunks(n, max_rows) if n else []:
            pre, ones, inactive = self._buffers(stop - start, sae_in.dtype)
            torch.matmul(sae_in[start:stop], W_enc, out=pre)
            inactive.zero_()
            # the elementwise passes on blocks of rows that stay in cache (one read of the GEMM's output)
            for r0 in range(0, stop - start, block_rows):
                block = pre[r0:r0 + block_rows]
                block.add_(b_enc)  # encode's `sae_in @ W_enc + b_enc`, bit for bit
                if len(self.columns):
                    torch.index_select(block, 1, self.columns, out=kept[start + r0:start + r0 + len(block)])
                torch.le(block, bound, out=block)  # 1.0 where inactive
                inactive.addmv_(block.T, ones[:len(block)])  # integers below 2^24: exact
            self.counts += (stop - start) - inactive.to(torch.int64)
        self.n_tokens += n
        return self._activations(kept) if len(self.columns) else kept

    def _activations(self, pre: Tensor) -> Tensor:
        """``encode``'s activation of the pre-activations of ``columns`` (the same elementwise operations)."""
        from sae_lens.saes.jumprelu_sae import JumpReLUSAE

        acts = self.sae.activation_fn(pre)
        if type(self.sae).encode is JumpReLUSAE.encode:
            acts = acts * (pre > self.sae.threshold.detach()[self.columns]).to(acts.dtype)
        return acts
