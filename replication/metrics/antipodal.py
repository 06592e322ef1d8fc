"""Metrics of "Antipodal Pairing and Mechanistic Signals in Dense SAE Latents" (Stolfo, Wu, Sachan).

Pure tensor functions; the analysis (:mod:`replication.papers.antipodal.analysis`) streams tokens through them.
Layouts are sae-lens's: ``W_enc`` is ``(d_in, d_sae)`` so the paper's ``W_enc^{(i)}`` is ``W_enc[:, i]``;
``W_dec`` is ``(d_sae, d_in)`` so ``W_dec^{(i)}`` is ``W_dec[i]``; ``W_U`` is ``(d_model, d_vocab)``.

Definitions chosen where the paper is vague:

- **Composition** ``rho_k(w) = ||P_k w|| / ||w||`` with ``P_k`` the orthogonal projector on ``k`` orthonormal
  directions. The paper's Eq. 1 prints ``sum_j v_j^T w / ||w||``, which is sign-dependent and can exceed 1;
  the text calls it "the fraction of the norm ... that lies in this subspace", which is the norm ratio.
- **Principal components**: eigenvectors of the token covariance (centred, float64, accumulated over a
  stream of batches by :func:`moment_sums` / :func:`add_moments`, so no ``tokens x d_model`` matrix is held).
- **Bottom singular vectors of W_U**: ``U[:, -k:]`` of ``W_U = U S V^T``, from the eigenvectors of the
  ``d_model x d_model`` Gram matrix ``W_U W_U^T`` (float64). Their signs are arbitrary; every metric that
  uses them is sign-invariant, or says so. Two readings of "W_U" (the paper does not say which; App A says
  TransformerLens): ``raw``, and ``processed`` as TransformerLens's default loading makes it
  (:func:`processed_unembedding`: final-norm gain folded in, centred along d_model for a LayerNorm model,
  unembedding centred over the vocabulary); centring along d_model puts the all-ones direction in W_U's
  left null space, a trivial U_{-1} that :func:`bottom_left_singular_vectors` excludes (``exclude=``).
- **Pairwise score** (§3.3): ``s_i = max_{j != i} cos(W_enc[:, i], W_enc[:, j]) * cos(W_dec[i], W_dec[j])``,
  computed exactly from the blocks of the upper triangle of the two symmetric cosine matrices (half the
  GEMM work of the full product, never a ``d_sae x d_sae`` matrix).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import scipy.stats
import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

# --------------------------------------------------------------------------------------------- checks


def _check_finite(name: str, t: Tensor) -> None:
    if t.numel() == 0 or not (t.is_floating_point() or t.is_complex()):
        return
    if t.is_complex():
        t = torch.view_as_real(t)
    # one pass, no temporary: aminmax propagates NaN (documented), so both are finite iff every entry is
    # (``isfinite(t).all()`` allocates and took 60 ms per 10M entries here)
    low, high = torch.aminmax(t)
    if not bool(torch.isfinite(low) & torch.isfinite(high)):
        raise ValueError(f"{name} has non-finite entries (NaN or inf)")


def _unit_rows(name: str, w: Tensor, dtype: torch.dtype) -> Tensor:
    """Rows of ``w`` scaled to unit norm; a zero-norm row is an error naming its index."""
    _check_finite(name, w)
    w = w.to(dtype)
    norms = w.norm(dim=1, keepdim=True)
    zero = (norms[:, 0] == 0).nonzero()
    if len(zero):
        raise ValueError(f"{name} has zero-norm vectors at latent indices {zero[:10, 0].tolist()} "
                         "(a cosine with a zero vector is undefined)")
    return w / norms


def _check_sae_weights(W_enc: Tensor, W_dec: Tensor) -> None:
    if W_enc.ndim != 2 or W_dec.ndim != 2 or W_enc.shape != W_dec.T.shape:
        raise ValueError(f"expected sae-lens layouts W_enc (d_in, d_sae) and W_dec (d_sae, d_in), got "
                         f"{tuple(W_enc.shape)} and {tuple(W_dec.shape)}")


def _compute_dtype(*ts: Tensor) -> torch.dtype:
    return torch.float64 if any(t.dtype == torch.float64 for t in ts) else torch.float32


# ------------------------------------------------------------------------- residual-stream PCs (§3.1)


class MomentSums(NamedTuple):
    """Sufficient statistics of a token stream for its covariance, in float64; they add across batches."""

    n: Int[Tensor, ""]
    """Number of tokens counted."""
    sum_x: Float[Tensor, " d_model"]
    """``sum_t x_t``."""
    sum_xx: Float[Tensor, "d_model d_model"]
    """``sum_t x_t x_t^T``."""


def moment_sums(x: Float[Tensor, "tokens d_model"], mask: Bool[Tensor, " tokens"] | None = None) -> MomentSums:
    """The float64 moment sums of the tokens of ``x`` kept by ``mask`` (BOS excluded by the caller's mask)."""
    if x.ndim != 2:
        raise ValueError(f"x must be (tokens, d_model), got shape {tuple(x.shape)}")
    if mask is not None:
        if mask.shape != x.shape[:1] or mask.dtype != torch.bool:
            raise ValueError(f"mask must be bool of shape ({x.shape[0]},), got {mask.dtype} {tuple(mask.shape)}")
        x = x[mask]
    _check_finite("x", x)
    x64 = x.to(torch.float64)
    return MomentSums(torch.tensor(x64.shape[0], dtype=torch.int64, device=x.device), x64.sum(0), x64.T @ x64)


def add_moments(a: MomentSums, b: MomentSums) -> MomentSums:
    """Moment sums of the concatenation of two streams."""
    if a.sum_x.shape != b.sum_x.shape:
        raise ValueError(f"moment sums of different d_model: {tuple(a.sum_x.shape)} and {tuple(b.sum_x.shape)}")
    return MomentSums(a.n + b.n, a.sum_x + b.sum_x, a.sum_xx + b.sum_xx)


def covariance(sums: MomentSums) -> Float[Tensor, "d_model d_model"]:
    """Unbiased token covariance ``(sum x x^T - n mu mu^T) / (n - 1)`` in float64."""
    n = int(sums.n)
    if n < 2:
        raise ValueError(f"covariance needs at least 2 tokens, got {n}")
    mu = sums.sum_x / n
    cov = (sums.sum_xx - n * torch.outer(mu, mu)) / (n - 1)
    return (cov + cov.T) / 2


class PrincipalComponents(NamedTuple):
    components: Float[Tensor, "k d_model"]
    """Unit principal directions as rows, by decreasing variance (signs arbitrary)."""
    variances: Float[Tensor, " k"]
    """The variance along each (the covariance's top eigenvalues)."""


def top_principal_components(sums: MomentSums, k: int) -> PrincipalComponents:
    """The top-``k`` principal components of a token stream (antipodal §3.1: k = 300 over ~250k C4 tokens),
    from ``torch.linalg.eigh`` of the float64 covariance (centred: PCA as in scikit-learn)."""
    d = sums.sum_x.shape[0]
    if not 1 <= k <= d:
        raise ValueError(f"k must be in [1, d_model = {d}], got {k}")
    evals, evecs = torch.linalg.eigh(covariance(sums))
    order = torch.argsort(evals, descending=True)[:k]
    return PrincipalComponents(evecs[:, order].T.contiguous(), evals[order])


def composition(vectors: Float[Tensor, "n d_model"], basis: Float[Tensor, "k d_model"]) -> Float[Tensor, " n"]:
    """``rho(w) = ||P w|| / ||w||`` for each row ``w``, with ``P`` the projector on the rows of ``basis``.

    Antipodal §3.1, Eq. 1 read as a norm fraction (see the module docstring). ``basis`` must have
    orthonormal rows (PCs, or ``U[:, -k:].T`` of W_U); the result lies in [0, 1]. Pass ``W_enc.T`` for the
    encoder composition (sae-lens layout) and ``W_dec`` for the decoder's.
    """
    if vectors.ndim != 2 or basis.ndim != 2 or vectors.shape[1] != basis.shape[1]:
        raise ValueError(f"vectors (n, d_model) and basis (k, d_model) must share d_model, got "
                         f"{tuple(vectors.shape)} and {tuple(basis.shape)}")
    dtype = _compute_dtype(vectors, basis)
    b = basis.to(dtype)
    gram = b @ b.T
    if not torch.allclose(gram, torch.eye(len(b), dtype=dtype, device=b.device), atol=1e-4):
        raise ValueError("basis rows must be orthonormal (got a Gram matrix far from the identity)")
    w = _unit_rows("vectors", vectors, dtype)
    return (w @ b.T).norm(dim=1).clamp(max=1.0)


# ----------------------------------------------------------------------------- W_U dark subspace (§3.2)


class BottomSingularVectors(NamedTuple):
    U: Float[Tensor, "d_model k"]
    """``U[:, -k:]`` of ``W_U = U S V^T``: column ``-1`` is ``U_{-1}`` (signs arbitrary)."""
    S: Float[Tensor, " k"]
    """The matching singular values, ascending order of index (``S[-1]`` is the smallest)."""


def processed_unembedding(W_U: Float[Tensor, "d_model d_vocab"], final_norm_weight: Tensor | None,
                          centred_norm: bool) -> Float[Tensor, "d_model d_vocab"]:
    """``W_U`` as TransformerLens's default loading (``fold_ln``, ``center_writing_weights``,
    ``center_unembed``) leaves it, from the raw ``W_U`` and the final norm (antipodal App A: the authors
    used TransformerLens). The definition of the ``processed`` reading; the analysis takes its spectrum in
    the Gram domain (:func:`unembedding_spectrum`'s ``processed=``), tested equal to this.

    ``W' = diag(w) W_U`` (the final norm's gain ``w`` folded in; ``None``: no gain, or already folded);
    for a LayerNorm (``centred_norm``: the norm subtracts the mean over d_model, so that direction never
    reaches W_U) ``W' -= mean over d_model`` (each column centred); then ``W' -= mean over the vocabulary``
    (each row centred: softmax is shift-invariant). Pass the *effective* gain (Gemma's RMSNorm scales by
    ``1 + w``). In float64.
    """
    if W_U.ndim != 2:
        raise ValueError(f"W_U must be (d_model, d_vocab), got shape {tuple(W_U.shape)}")
    _check_finite("W_U", W_U)
    W = W_U.detach().to(torch.float64)
    if final_norm_weight is not None:
        if final_norm_weight.shape != W.shape[:1]:
            raise ValueError(f"final norm weight {tuple(final_norm_weight.shape)} does not match W_U's d_model "
                             f"{W.shape[0]}")
        W = final_norm_weight.detach().to(W)[:, None] * W
    if centred_norm:
        W = W - W.mean(0, keepdim=True)
    return W - W.mean(1, keepdim=True)


class WUSpectrum(NamedTuple):
    U: Float[Tensor, "d_model k"]
    S: Float[Tensor, " k"]
    spectrum: Float[Tensor, " r"]
    """Every singular value of W_U (descending), the excluded direction's left out."""


def _orthonormal_complement(e: Tensor) -> Tensor:
    """``(d, d - 1)`` orthonormal columns spanning the complement of the unit vector ``e`` (Householder)."""
    d = len(e)
    v = e.clone()
    v[0] += math.copysign(1.0, float(e[0]))  # reflect e onto -sign(e_0) * basis vector 0
    H = torch.eye(d, dtype=e.dtype, device=e.device) - 2 * torch.outer(v, v) / (v @ v)
    return H[:, 1:]


def bottom_left_singular_vectors(W_U: Float[Tensor, "d_model d_vocab"], k: int,
                                 vocab_chunk: int = 65_536, *,
                                 exclude: Float[Tensor, " d_model"] | None = None) -> BottomSingularVectors:
    """The ``k`` bottom left singular vectors of ``W_U`` (antipodal §3.2: ``U_{-10}, ..., U_{-1}``).

    Computed as eigenvectors of the float64 Gram matrix ``G = W_U W_U^T`` (``d_model x d_model``,
    accumulated over vocabulary chunks): ``G = U S^2 U^T``, so its eigenvectors are the left singular
    vectors. Measured here (one CPU thread, random 768 x 50257 float32, GPT-2's shape): 2.6 s against 9.3 s
    for ``torch.linalg.svd(W_U, full_matrices=False)``, same bottom-10 vectors up to sign (|cos| - 1 < 4e-7).
    Precision of squaring: the *vectors* are as accurate as the SVD's unless a gap between two eigenvalues of
    G is near float64 rounding of G's norm (eigenvector error ~ eps * S_max^2 / gap); the *singular values*
    are not: an eigenvalue of G carries an absolute error ~ eps * S_max^2, so ``S_i`` has a relative error
    ~ eps * (S_max / S_i)^2 / 2 (eps = 2^-53), which matters only for ``S_i`` below ~1e-6 of ``S_max``.

    ``exclude`` (a unit vector, e.g. the normalised all-ones direction of a processed W_U): the vectors are
    taken in its orthogonal complement (``Q^T G Q``, ``Q`` an orthonormal basis of the complement), so a
    trivial direction of W_U's null space is never ``U_{-1}``. Signs are made deterministic (largest-magnitude
    coordinate positive) but remain arbitrary.
    """
    spectrum = unembedding_spectrum(W_U, k, vocab_chunk, exclude=exclude)
    return BottomSingularVectors(spectrum.U, spectrum.S)


def unembedding_spectrum(W_U: Float[Tensor, "d_model d_vocab"], k: int, vocab_chunk: int = 65_536, *,
                         exclude: Float[Tensor, " d_model"] | None = None,
                         processed: tuple[Tensor | None, bool] | None = None) -> WUSpectrum:
    """:func:`bottom_left_singular_vectors` and every singular value of W_U (descending; the excluded
    direction's left out): is there a dark subspace at all (bottom values far below the median)?

    ``processed=(final_norm_weight, centred_norm)``: the spectrum of :func:`processed_unembedding` of ``W_U``,
    computed in the Gram domain without materialising it: with ``m = W_U 1`` (row sums), ``D = diag(w)`` and
    ``P`` the centring along d_model (identity for a norm that does not centre), the processed matrix is
    ``P D W_U (I - 1 1^T / d_vocab)`` and its Gram matrix ``P D (G - m m^T / d_vocab) D P`` (no float64 copy of a
    128k-token unembedding).
    """
    if W_U.ndim != 2:
        raise ValueError(f"W_U must be (d_model, d_vocab), got shape {tuple(W_U.shape)}")
    d_model, d_vocab = W_U.shape
    if d_vocab < d_model:
        raise ValueError(f"W_U is {tuple(W_U.shape)}: d_vocab < d_model leaves U[:, -1] in a null space, not "
                         "unique; is W_U transposed? (expected (d_model, d_vocab))")
    if not 1 <= k <= d_model:
        raise ValueError(f"k must be in [1, d_model = {d_model}], got {k}")
    _check_finite("W_U", W_U)
    gram = torch.zeros(d_model, d_model, dtype=torch.float64, device=W_U.device)
    row_sums = torch.zeros(d_model, dtype=torch.float64, device=W_U.device)
    for start in range(0, d_vocab, vocab_chunk):
        block = W_U[:, start:start + vocab_chunk].to(torch.float64)
        gram += block @ block.T
        row_sums += block.sum(1)
    if processed is not None:
        weight, centred = processed
        gram = gram - torch.outer(row_sums, row_sums) / d_vocab  # centred over the vocabulary
        left = torch.eye(d_model, dtype=torch.float64, device=W_U.device)
        if weight is not None:
            if weight.shape != (d_model,):
                raise ValueError(f"final norm weight {tuple(weight.shape)} does not match W_U's d_model {d_model}")
            left = left * weight.detach().to(left)[None, :]
        if centred:
            left = left - left.mean(0, keepdim=True)  # P D: each column of D W_U centred along d_model
        gram = left @ gram @ left.T
    gram = (gram + gram.T) / 2
    basis = None
    if exclude is not None:
        e = exclude.detach().to(gram)
        if e.shape != (d_model,) or not math.isclose(float(e.norm()), 1.0, abs_tol=1e-6):
            raise ValueError(f"exclude must be a unit vector of length d_model = {d_model}")
        if k > d_model - 1:
            raise ValueError(f"k must be <= d_model - 1 = {d_model - 1} when a direction is excluded, got {k}")
        basis = _orthonormal_complement(e)
        gram = basis.T @ gram @ basis
        gram = (gram + gram.T) / 2
    evals, evecs = torch.linalg.eigh(gram)  # ascending: bottom singular vectors first
    if basis is not None:
        evecs = basis @ evecs
    U = evecs[:, :k].flip(1)  # columns U_{-k}, ..., U_{-1}
    pivot = U.abs().argmax(dim=0)
    U = U * torch.sign(U[pivot, torch.arange(k, device=U.device)])
    S = evals.clamp(min=0).sqrt()
    return WUSpectrum(U, S[:k].flip(0), S.flip(0))


# ------------------------------------------------------------------------------ pairwise score (§3.3)


class PairwiseScores(NamedTuple):
    score: Float[Tensor, " d_sae"]
    """``s_i = max_{j != i} cos(W_enc[:, i], W_enc[:, j]) * cos(W_dec[i], W_dec[j])``, in [-1, 1]."""
    partner: Int[Tensor, " d_sae"]
    """The argmax ``j`` (the lowest index on ties)."""
    enc_cos: Float[Tensor, " d_sae"]
    """``cos(W_enc[:, i], W_enc[:, partner_i])``."""
    dec_cos: Float[Tensor, " d_sae"]
    """``cos(W_dec[i], W_dec[partner_i])``."""


def pairwise_scores(W_enc: Float[Tensor, "d_in d_sae"], W_dec: Float[Tensor, "d_sae d_in"],
                    chunk_size: int = 1024, *, dtype: torch.dtype | None = None,
                    allow_tf32: bool = False) -> PairwiseScores:
    """The pairwise score of antipodal §3.3, its argmax partner and the partner's two cosines, exactly.

    **Algorithm.** Both cosine matrices ``C_enc = E E^T`` and ``C_dec = D D^T`` (unit rows ``E``, ``D``) are
    symmetric, so ``P = C_enc * C_dec`` is too: only the blocks ``P_IJ`` (``chunk_size`` latents a side) of
    the upper triangle ``J >= I`` are computed, and each updates the running row maxima of block ``I`` (from
    ``P_IJ``) and of block ``J`` (from ``P_IJ^T``): half the GEMM work of the full product, and memory
    ``O(chunk_size^2)`` beyond the weights, never ``d_sae x d_sae`` (131k latents would need 69 GB in
    float32). Cosines are clamped to [-1, 1] against rounding before the product. Ties: the partner is the
    smallest ``j`` among equal computed products (as ``max`` over a full row gives), whatever the tile
    order; products equal in exact arithmetic can differ by a rounding when their sums are not exact, and
    are then ordered by that rounding, as in any floating-point argmax. The reported ``enc_cos``,
    ``dec_cos`` are recomputed for the chosen partner in the inputs' precision (float32, or float64 if
    either input is), and ``score = enc_cos * dec_cos``. Tile size: 512-1024 on CPU (measured: 0.93-0.96 of
    this CPU's float32 GEMM rate at 32k x 768, one thread); pass 4096-8192 on a GPU, where each tile's
    dozen small kernels would otherwise dominate.

    So ``s`` lies in [-1, 1]; it is invariant to positive (and, jointly for encoder and decoder, negative)
    rescaling of any latent. An exact antipodal pair (``W_enc[:, j] = -a W_enc[:, i]``,
    ``W_dec[j] = -b W_dec[i]``, ``a, b > 0``) gives ``s_i = s_j = 1``.

    **Reduced precision** (speed): ``dtype=torch.bfloat16`` runs the tile GEMMs and products on bfloat16
    unit vectors (float32 accumulation, outputs rounded to bfloat16; ~1.5x faster on this CPU);
    ``allow_tf32=True`` (CUDA only, float32) lets cuBLAS round the GEMM inputs to TF32. Either only
    *selects* the partner: the returned cosines and score are the full-precision values for that partner,
    so ``score <= exact score`` (up to float32 rounding) and the shortfall is nonzero only where a near-tie
    was resolved the wrong way. The rigorous bound on the shortfall is :func:`bfloat16_shortfall_bound`
    (~14 * 2^-8 = 0.055); 2^-7 is *typical* (measured up to 3.8e-3 on (512, 64) clustered near-antipodes,
    but 8.5e-3 and 9.5e-3 at d_in 24-33 with 50-100 clusters and noise 0.2-0.25). Memory: one extra copy
    of the unit rows in ``dtype``.
    """
    W_enc, W_dec = W_enc.detach(), W_dec.detach()  # a measurement, not a training loss: no autograd
    _check_sae_weights(W_enc, W_dec)
    d_sae = W_dec.shape[0]
    if d_sae < 2:
        raise ValueError("the pairwise score needs at least two latents")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    exact_dtype = _compute_dtype(W_enc, W_dec)
    mm_dtype = exact_dtype if dtype is None else dtype
    if mm_dtype not in (torch.float64, torch.float32, torch.bfloat16):
        raise ValueError(f"dtype must be None, torch.float64, torch.float32 or torch.bfloat16, got {dtype}")
    if allow_tf32 and (W_enc.device.type != "cuda" or mm_dtype != torch.float32):
        raise ValueError(f"allow_tf32 applies to float32 CUDA matmuls only (got {mm_dtype} on "
                         f"{W_enc.device.type}); on CPU use dtype=torch.bfloat16 for reduced precision")
    # contiguous rows first: checks, norms and GEMM blocks on the transposed view W_enc.T run strided and
    # were measured 3-10x slower (0.4 s of prologue at 4096 x 2304, a third of the whole score)
    enc = _unit_rows("W_enc columns", W_enc.T.contiguous(), exact_dtype)
    dec = _unit_rows("W_dec rows", W_dec.contiguous(), exact_dtype)
    with _tf32_matmuls(allow_tf32):
        partner = _symmetric_argmax(enc.to(mm_dtype), dec.to(mm_dtype), chunk_size,
                                    sparse_argmax=enc.device.type == "cpu")
    enc_cos, dec_cos = _partner_cosines(enc, partner, chunk_size), _partner_cosines(dec, partner, chunk_size)
    return PairwiseScores(enc_cos * dec_cos, partner, enc_cos, dec_cos)


def bfloat16_shortfall_bound(d_in: int) -> float:
    """The rigorous worst case of ``exact score - bfloat16-selected score`` (:func:`pairwise_scores`).

    With bfloat16's unit roundoff ``u = 2^-8``: rounding each unit row to bfloat16 moves it by at most ``u``
    in norm, so a cosine of two rounded rows is off by ``<= 2u + u^2``; float32 accumulation adds
    ``<= d_in * 2^-24``; rounding the GEMM output to bfloat16 adds ``<= u`` (|cos| <= 1): each cosine is
    off by ``e_c = 3u + u^2 + d_in 2^-24``. Their product is off by ``<= 2 e_c + e_c^2``, and rounding it
    to bfloat16 adds ``u``: every compared product is within ``e_p = 2 e_c + e_c^2 + u`` of its exact
    value, so the selected partner's exact product is at most ``2 e_p`` below the true maximum (~14 u).
    """
    u = 2.0**-8
    e_c = 3 * u + u * u + d_in * 2.0**-24
    return 2 * (2 * e_c + e_c * e_c + u)


@contextlib.contextmanager
def _tf32_matmuls(enabled: bool) -> Iterator[None]:
    """Let cuBLAS use TF32 for float32 matmuls inside the block, restoring the global flag after."""
    if not enabled:
        yield
        return
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


def _symmetric_argmax(enc: Float[Tensor, "d_sae d_in"], dec: Float[Tensor, "d_sae d_in"], block: int,
                      sparse_argmax: bool) -> Int[Tensor, " d_sae"]:
    """``argmax_{j != i} clamp(E E^T)[i, j] * clamp(D D^T)[i, j]`` per row (smallest ``j`` on ties), from
    the upper-triangle blocks only (see :func:`pairwise_scores`). ``sparse_argmax`` (CPU): take the fast
    ``amax`` of every row and column of a block and the (slow, unvectorised on CPU) ``argmax`` only where
    the block can change the running maximum; otherwise (GPU) ``max`` with indices everywhere, no host
    synchronisation."""
    n, device = enc.shape[0], enc.device
    running_dtype = torch.float64 if enc.dtype == torch.float64 else torch.float32
    best = torch.full((n,), -math.inf, dtype=running_dtype, device=device)
    arg = torch.zeros(n, dtype=torch.int64, device=device)
    size = min(block, n)
    buf_enc = torch.empty(size * size, dtype=enc.dtype, device=device)
    buf_dec = torch.empty(size * size, dtype=enc.dtype, device=device)
    fold = _fold_sparse if sparse_argmax else _fold_dense
    for i0, i1, j0, j1 in _upper_triangle_tiles(n, block):
        shape = (i1 - i0, j1 - j0)
        numel = shape[0] * shape[1]
        prod = torch.mm(enc[i0:i1], enc[j0:j1].T, out=buf_enc[:numel].view(shape)).clamp_(-1.0, 1.0)
        c_dec = torch.mm(dec[i0:i1], dec[j0:j1].T, out=buf_dec[:numel].view(shape)).clamp_(-1.0, 1.0)
        prod.mul_(c_dec)
        if j0 == i0:
            prod.fill_diagonal_(-math.inf)  # exclude j = i (diagonal tiles are square)
        fold(best[i0:i1], arg[i0:i1], prod, 1, j0)  # rows of tile I: candidates j in tile J
        if j0 != i0:
            fold(best[j0:j1], arg[j0:j1], prod, 0, i0)  # rows of tile J: candidates i in tile I
    return arg


def _upper_triangle_tiles(n: int, block: int) -> list[tuple[int, int, int, int]]:
    """Row and column ranges ``(i0, i1, j0, j1)`` of tiles covering every pair ``i <= j`` of ``range(n)``
    once: ``block x block`` tiles above the diagonal, and each diagonal block split again into the upper
    triangle of ``block/4``-sized tiles (a diagonal tile computes both its triangles, so this cuts that
    redundant work from ``block/(2 d_sae)`` to ``block/(8 d_sae)`` of the half product). Diagonal tiles
    come first: every latent then holds the best of its own block before the off-diagonal tiles are
    folded in, so fewer of their columns need the argmax."""
    sub = max(1, block // 4)
    diagonal, off_diagonal = [], []
    for b0 in range(0, n, block):
        b1 = min(b0 + block, n)
        for i0 in range(b0, b1, sub):
            for j0 in range(i0, b1, sub):
                diagonal.append((i0, min(i0 + sub, b1), j0, min(j0 + sub, b1)))
        for c0 in range(b1, n, block):
            off_diagonal.append((b0, b1, c0, min(c0 + block, n)))
    return diagonal + off_diagonal


def _fold_sparse(best: Tensor, arg: Tensor, prod: Tensor, dim: int, offset: int) -> None:
    """Fold the maxima of ``prod`` along ``dim`` (indices shifted by ``offset``) into ``best``/``arg``."""
    peak = prod.amax(dim=dim)
    value = peak.to(best.dtype)
    cand = ((value >= best) & (value > -math.inf)).nonzero()[:, 0]
    if len(cand) == 0:
        return
    if dim == 0 and 4 * len(cand) >= len(value):
        # many columns: first row equal to the column's peak, vectorised (2-3x faster than argmax(0) on CPU)
        rows = torch.arange(prod.shape[0], dtype=torch.int32, device=prod.device)
        first = torch.where(prod == peak, rows[:, None], torch.iinfo(torch.int32).max).amin(dim=0)
        index = first[cand].to(torch.int64) + offset
    else:
        index = prod.index_select(1 - dim, cand).argmax(dim=dim) + offset  # first maximum on ties
    value = value[cand]
    win = (value > best[cand]) | (index < arg[cand])  # value >= best here; on equality the smaller index wins
    rows_won = cand[win]
    best[rows_won] = value[win]
    arg[rows_won] = index[win]


def _fold_dense(best: Tensor, arg: Tensor, prod: Tensor, dim: int, offset: int) -> None:
    """As :func:`_fold_sparse`, with ``max`` and ``where`` on every row (no data-dependent shapes)."""
    value, index = prod.max(dim=dim)
    value, index = value.to(best.dtype), index + offset
    wins = (value > best) | ((value == best) & (index < arg))
    best.copy_(torch.where(wins, value, best))
    arg.copy_(torch.where(wins, index, arg))


def _partner_cosines(unit: Float[Tensor, "d_sae d_in"], partner: Int[Tensor, " d_sae"],
                     block: int) -> Float[Tensor, " d_sae"]:
    """``clamp(unit[i] . unit[partner_i], -1, 1)`` per latent, ``block`` rows at a time."""
    out = torch.empty(len(unit), dtype=unit.dtype, device=unit.device)
    for start in range(0, len(unit), block):
        stop = min(start + block, len(unit))
        out[start:stop] = (unit[start:stop] * unit[partner[start:stop]]).sum(1)
    return out.clamp_(-1.0, 1.0)


def abs_max_cosine_partners(W: Float[Tensor, "d_sae d_in"], rows: Int[Tensor, " n"],
                            chunk_size: int = 1024) -> tuple[Int[Tensor, " n"], Float[Tensor, " n"]]:
    """For each latent ``i`` in ``rows``: ``k = argmax_{l != i} |cos(W[i], W[l])|`` and ``cos(W[i], W[k])``
    (signed), as antipodal App B / Fig 5c chooses the encoder and the decoder partners *separately*.

    ``W``: one weight per latent as rows (``W_dec``, or ``W_enc.T``); ties go to the lowest ``l``.
    """
    if W.ndim != 2 or len(W) < 2:
        raise ValueError(f"W must be (d_sae >= 2, d_in), got shape {tuple(W.shape)}")
    unit = _unit_rows("weights", W.detach().contiguous(), _compute_dtype(W))
    partner = torch.empty(len(rows), dtype=torch.int64, device=W.device)
    cos = torch.empty(len(rows), dtype=unit.dtype, device=W.device)
    for start in range(0, len(rows), chunk_size):
        idx = rows[start:start + chunk_size].to(W.device)
        c = (unit[idx] @ unit.T).clamp_(-1.0, 1.0)
        c[torch.arange(len(idx), device=W.device), idx] = 0.0  # l != i: |cos| = 0 never wins over another l
        k = c.abs().argmax(dim=1)
        partner[start:start + len(idx)] = k
        cos[start:start + len(idx)] = c.gather(1, k[:, None])[:, 0]
    return partner, cos


def rank_fraction(values: Float[Tensor, " n"]) -> Float[Tensor, " n"]:
    """For each entry, the fraction of the *other* entries strictly below it (0: the lowest, 1: above all).

    Antipodal §3.2's "high composition with the bottom W_U subspace" has no absolute scale (a random
    direction's composition with ``k`` of ``d`` dimensions is ~ sqrt(k/d)), so it is read as a rank.
    """
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"rank_fraction needs a 1-D tensor of >= 2 entries, got shape {tuple(values.shape)}")
    ordered = values.sort().values
    below = torch.searchsorted(ordered, values.contiguous(), right=False)
    return below.to(torch.float64) / (len(values) - 1)


def u1_pair(abs_cos_u1: Float[Tensor, " d_sae"], density: Float[Tensor, " d_sae"], partner: Int[Tensor, " d_sae"],
            dense_threshold: float) -> tuple[int, int] | None:
    """"The pair" of antipodal §3.2 / Fig 2a / Fig 5b / Fig 6: the dense latent (density > threshold) whose
    decoder has the largest ``|cos|`` with ``U_{-1}``, and its pairwise-score partner; ``None`` if no latent is
    dense (the claims about the pair are then inconclusive). Ties: the lowest index."""
    dense = density > dense_threshold
    if not bool(dense.any()):
        return None
    masked = torch.where(dense, abs_cos_u1.to(torch.float64), torch.tensor(-1.0, dtype=torch.float64,
                                                                            device=abs_cos_u1.device))
    i = int(masked.argmax())
    return i, int(partner[i])


def encoder_decoder_cosine(W_enc: Float[Tensor, "d_in d_sae"],
                           W_dec: Float[Tensor, "d_sae d_in"]) -> Float[Tensor, " d_sae"]:
    """``cos(W_enc[:, i], W_dec[i])`` per latent (antipodal App B, Fig 5a)."""
    _check_sae_weights(W_enc, W_dec)
    dtype = _compute_dtype(W_enc, W_dec)
    enc, dec = _unit_rows("W_enc columns", W_enc.T, dtype), _unit_rows("W_dec rows", W_dec, dtype)
    return (enc * dec).sum(1).clamp(-1, 1)


# --------------------------------------------------------------------------------- per-token signals


def coactivation_rate(f_i: Float[Tensor, " tokens"], f_j: Float[Tensor, " tokens"]) -> Float[Tensor, ""]:
    """Fraction of tokens on which both latents are active, ``mean_t [f_i != 0 and f_j != 0]`` (App B, Fig 5b).

    The caller passes only the counted tokens (BOS excluded).
    """
    if f_i.shape != f_j.shape or f_i.ndim != 1 or len(f_i) == 0:
        raise ValueError(f"f_i and f_j must be non-empty 1-D of one length, got {tuple(f_i.shape)}, "
                         f"{tuple(f_j.shape)}")
    return ((f_i != 0) & (f_j != 0)).to(torch.float64).mean()


def projection(x: Float[Tensor, "tokens d_model"],
               direction: Float[Tensor, " d_model"]) -> Float[Tensor, " tokens"]:
    """``x_t . d`` for a unit direction ``d`` (e.g. ``U_{-1}``: the residual value along it, §3.2 Fig 2a/2c)."""
    if x.ndim != 2 or direction.shape != x.shape[1:]:
        raise ValueError(f"x (tokens, d_model) and direction (d_model,) must match, got {tuple(x.shape)} and "
                         f"{tuple(direction.shape)}")
    if not math.isclose(float(direction.norm()), 1.0, abs_tol=1e-4):
        raise ValueError(f"direction must be a unit vector, its norm is {float(direction.norm()):.6g}")
    dtype = _compute_dtype(x, direction)
    return x.to(dtype) @ direction.to(dtype)


def norm_fraction_along(x: Float[Tensor, "tokens d_model"],
                        direction: Float[Tensor, " d_model"]) -> Float[Tensor, " tokens"]:
    """``|x_t . d| / ||x_t||`` per token: the fraction of the residual norm along ``d`` (§3.2, Fig 2b)."""
    proj = projection(x, direction)
    norms = x.to(proj.dtype).norm(dim=1)
    if bool((norms == 0).any()):
        raise ValueError("norm_fraction_along: a token has a zero residual vector")
    return proj.abs() / norms


def output_entropy(logits: Float[Tensor, "tokens d_vocab"]) -> Float[Tensor, " tokens"]:
    """Entropy of the next-token distribution in nats, ``H_t = -sum_v p_tv log p_tv`` with ``p = softmax``
    (§3.2, Fig 2c: "model output entropy")."""
    if logits.ndim != 2:
        raise ValueError(f"logits must be (tokens, d_vocab), got shape {tuple(logits.shape)}")
    _check_finite("logits", logits)
    logp = torch.log_softmax(logits.to(_compute_dtype(logits)), dim=-1)
    return -(logp.exp() * logp).sum(-1)


# ------------------------------------------------------------------------------------- statistics


class Correlation(NamedTuple):
    statistic: float
    pvalue: float


def _as_numpy_pair(x: Tensor, y: Tensor, what: str) -> tuple[np.ndarray, np.ndarray]:
    if x.ndim != 1 or x.shape != y.shape or len(x) < 3:
        raise ValueError(f"{what} needs two 1-D tensors of one length >= 3, got {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    a, b = x.detach().cpu().to(torch.float64).numpy(), y.detach().cpu().to(torch.float64).numpy()
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"{what}: non-finite input")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        raise ValueError(f"{what} is undefined for a constant input")
    return a, b


def pearson(x: Float[Tensor, " n"], y: Float[Tensor, " n"]) -> Correlation:
    """Pearson's r with its two-sided p-value, ``scipy.stats.pearsonr``."""
    res = scipy.stats.pearsonr(*_as_numpy_pair(x, y, "pearson"))
    return Correlation(float(res.statistic), float(res.pvalue))


def spearman(x: Float[Tensor, " n"], y: Float[Tensor, " n"]) -> Correlation:
    """Spearman's rank correlation with its two-sided p-value, ``scipy.stats.spearmanr``."""
    res = scipy.stats.spearmanr(*_as_numpy_pair(x, y, "spearman"))
    return Correlation(float(res.statistic), float(res.pvalue))


def spearman_bootstrap_ci(x: Float[Tensor, " n"], y: Float[Tensor, " n"], *, confidence: float = 0.95,
                          n_resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's rho over resampled (x, y) pairs
    (``scipy.stats.bootstrap``, ``paired=True``, fixed seed). Beside a p-value that is vacuous at 32k
    latents (antipodal §3.4 at p < 1e-3), it says how large the correlation plausibly is. A resample that
    is constant in either variable counts as rho = 0.

    The statistic is vectorised over scipy's resamples: the average ranks of each resample (those of
    ``scipy.stats.rankdata``, exactly: :func:`_resample_ranks`), then Pearson's r of the ranks, as
    ``scipy.stats.spearmanr`` computes it (equal to it up to float64 rounding)."""
    a, b = _as_numpy_pair(x, y, "spearman_bootstrap_ci")
    # rho depends on order alone: resample each value's index among its variable's sorted distinct values
    (values_a, code_a), (values_b, code_b) = np.unique(a, return_inverse=True), np.unique(b, return_inverse=True)

    def rho(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        u, v = np.moveaxis(u, axis, -1), np.moveaxis(v, axis, -1)
        return _pearson_rows(_resample_ranks(u, len(values_a)), _resample_ranks(v, len(values_b)))

    res = scipy.stats.bootstrap((code_a, code_b), rho, paired=True, vectorized=True, confidence_level=confidence,
                                n_resamples=n_resamples, method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _resample_ranks(codes: np.ndarray, m: int) -> np.ndarray:
    """Average ranks (1-based, ties share the mean of their positions) along each row of ``codes``, whose
    entries index ``m`` sorted distinct values: an entry's rank is the number of smaller entries in its row
    plus ``(its count + 1) / 2``, from a count per distinct value (integers and halves: exact in float64, so
    these are ``scipy.stats.rankdata``'s ranks of the values, exactly)."""
    codes = codes.astype(np.intp, copy=False)
    batch = codes.shape[0]
    counts = np.bincount((codes + m * np.arange(batch)[:, None]).ravel(), minlength=batch * m).reshape(batch, m)
    below = np.cumsum(counts, axis=1) - counts
    return np.take_along_axis(below + (counts + 1) / 2.0, codes, axis=1)


def _pearson_rows(ru: np.ndarray, rv: np.ndarray) -> np.ndarray:
    """Pearson's r of each pair of rows; 0 where either row is constant (no rank variation, no correlation)."""
    ru = ru - ru.mean(axis=-1, keepdims=True)
    rv = rv - rv.mean(axis=-1, keepdims=True)
    su, sv = np.einsum("...i,...i->...", ru, ru), np.einsum("...i,...i->...", rv, rv)
    constant = (su == 0) | (sv == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.einsum("...i,...i->...", ru, rv) / np.sqrt(su) / np.sqrt(sv)
    return np.where(constant, 0.0, np.clip(r, -1.0, 1.0))


# ------------------------------------------------------------------------- summaries over latents


def fraction_where(numerator: Bool[Tensor, " n"], among: Bool[Tensor, " n"]) -> Float[Tensor, ""]:
    """``#(numerator & among) / #among``, and 0 when ``among`` is empty (the claims that presuppose a
    non-empty set add a count condition, so an empty set never replicates by this convention)."""
    n = among.sum()
    if int(n) == 0:
        return torch.zeros((), dtype=torch.float64)
    return (numerator & among).sum().to(torch.float64) / n


class DepthTrend(NamedTuple):
    final_minus_max_earlier: float
    """``fraction[-1] - max(fraction[:-1])``: > 0 iff the final layer is above every earlier one."""
    spearman: Correlation
    """Spearman(layer index, fraction)."""


def depth_trend(fraction_per_layer: Float[Tensor, " n_layers"]) -> DepthTrend:
    """Summary of the residual-norm fraction along ``U_{-1}`` per layer (antipodal §3.2, Fig 2b)."""
    if fraction_per_layer.ndim != 1 or len(fraction_per_layer) < 3:
        raise ValueError(f"need the fraction of >= 3 layers, got shape {tuple(fraction_per_layer.shape)}")
    f = fraction_per_layer.to(torch.float64)
    layers = torch.arange(len(f), dtype=torch.float64)
    return DepthTrend(float(f[-1] - f[:-1].max()), spearman(layers, f))
