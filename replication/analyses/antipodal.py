"""Measurement of the ``antipodal.*`` claims: one target-agnostic analysis for every tier.

The interface
=============
The analysis reads a target only through :class:`AntipodalInputs`, so the toy, tinylm and real tiers
plug in by providing one, and nothing below :func:`measure` knows which tier it serves:

- ``sae``: a sae-lens ``SAE`` (any architecture): ``encode``, ``W_enc`` ``(d_in, d_sae)``, ``W_dec``
  ``(d_sae, d_in)``.
- ``W_U``: the raw unembedding, ``(d_model, d_vocab)`` (TransformerLens's ``model.W_U`` unprocessed), and
  ``final_norm``: the final norm's effective gain and whether it centres (LayerNorm), from which the
  ``processed`` reading of W_U is made (:func:`replication.metrics.antipodal.processed_unembedding`).
- ``settings``: :class:`AntipodalSettings` (``k`` of the top PCs and bottom ``W_U`` vectors, the paper's
  thresholds).
- ``batches()``: one pass over a token stream, as :class:`ActivationBatch` items: ``resid``, the SAE's
  input at its hook (``(tokens, d_model)``, batch and position flattened); ``mask``, ``True`` on the tokens
  that count (BOS and padding excluded, as the paper's densities are over text tokens); optionally
  ``logits`` at the same tokens (output entropy; from the model, i.e. through its final norm and
  ``W_U``), and ``layer_resids`` ``(n_layers, tokens, d_model)`` (``hook_resid_post`` of every layer,
  for the depth trend of Fig 2b).

:func:`hooked_transformer_batches` makes that stream from a TransformerLens ``HookedTransformer`` and
token batches (the tinylm and real tiers); the toy tier makes it from synthetic data (bottom of the module).

What it computes
================
:func:`measure` returns :class:`AntipodalArrays` (every per-latent and per-token array; the report plots
from it) and :func:`summarise` derives the claims' metrics from it. One pass over the stream accumulates
fire counts (density), float64 moment sums (PCs), the top pair's activations, the residual value along
``U_{-1}`` and the output entropy; the weight-only quantities (pairwise score, ``U_{-1}``, enc-dec cosine)
come first. Every metric that reads W_U is computed under each reading of :data:`READINGS` and named
``metric@reading``. Definitions are in :mod:`replication.metrics.antipodal` and in the claims
(:mod:`claims.antipodal`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import torch
from jaxtyping import Bool, Float, Int
from torch import Tensor

from replication.claims import Tier, metric_key
from replication.metrics import fire_counts
from replication.metrics.antipodal import (
    Correlation,
    MomentSums,
    WUSpectrum,
    abs_max_cosine_partners,
    add_moments,
    coactivation_rate,
    composition,
    depth_trend,
    encoder_decoder_cosine,
    fraction_where,
    moment_sums,
    norm_fraction_along,
    output_entropy,
    pairwise_scores,
    pearson,
    projection,
    rank_fraction,
    spearman,
    spearman_bootstrap_ci,
    top_principal_components,
    u1_pair,
    unembedding_spectrum,
)
from replication.targets import ANALYSES, Analysis, Target
from replication.verdict import Status

# ------------------------------------------------------------------------------------------ interface


@dataclass(frozen=True)
class AntipodalSettings:
    """The paper's constants; ``k_pc`` and ``k_wu`` scale with ``d_model`` on small targets."""

    k_pc: int = 300
    """Top residual PCs (§3.1: k = 300 of Gemma 2 2B's d_model = 2304)."""
    k_wu: int = 10
    """Bottom left singular vectors of W_U (§3.2: U_{-10}, ..., U_{-1})."""
    dense_threshold: float = 0.1
    """A latent is dense if its density exceeds this (§2)."""
    very_dense_threshold: float = 0.3
    """§3.3: "particularly those with an activation frequency exceeding 0.3"."""
    rho_threshold: float = 0.7
    """Outliers have rho_k above this (§3.1)."""
    pair_threshold: float = 0.9
    """A latent is paired if its pairwise score exceeds this (§3.3)."""
    top_outliers: int = 2
    """How many of the highest-composition latents must lie in both subspaces (a pair: Fig 1b)."""
    wu_quantile: float = 0.9
    """High composition with the bottom W_U subspace: strictly above that of this fraction of the other
    latents (a rank: the composition has no absolute scale across k_wu / d_model). The PC side uses
    ``rho_threshold`` (§3.1)."""
    antipodal_cosine: float = 0.9
    """An s-partner is antipodal if both its cosines are <= -this (catalog: "both cosines <= -0.9")."""
    pair_candidates: int = 32
    """Latents nearest U_{-1} (per reading) whose activations the pass records, to find the pair in one pass."""
    bootstrap_resamples: int = 1000
    """Resamples of the rank correlations' bootstrap intervals (§3.4)."""
    chunk_size: int = 1024
    """Rows per chunk of the pairwise score (memory O(chunk_size * d_sae))."""

    @staticmethod
    def scaled(d_model: int) -> "AntipodalSettings":
        """Settings for a small ``d_model``: k_pc and k_wu keep the paper's fractions of Gemma's 2304."""
        return AntipodalSettings(k_pc=max(1, round(300 * d_model / 2304)), k_wu=max(1, round(10 * d_model / 2304)))


class ActivationBatch(NamedTuple):
    resid: Float[Tensor, "tokens d_model"]
    """The SAE's input at its hook, batch and position flattened."""
    mask: Bool[Tensor, " tokens"]
    """True on the tokens that count (BOS and padding excluded)."""
    logits: Float[Tensor, "tokens d_vocab"] | None = None
    """The model's output logits at the same tokens (for the entropy of §3.2, Fig 2c)."""
    layer_resids: Float[Tensor, "n_layers tokens d_model"] | None = None
    """``hook_resid_post`` of every layer at the same tokens (for the depth trend of Fig 2b)."""


class FinalNorm(NamedTuple):
    """The model's final norm, as the ``processed`` reading of W_U needs it."""

    weight: Float[Tensor, " d_model"] | None
    """The effective gain (``1 + w`` where the norm scales by ``1 + w``, as Gemma's); ``None``: none."""
    centred: bool
    """Whether the norm subtracts the mean over d_model (LayerNorm: yes; RMSNorm: no)."""


class AntipodalInputs(Protocol):
    """Everything :func:`measure` reads from a target."""

    @property
    def sae(self) -> Any:  # sae_lens.SAE
        ...

    @property
    def W_U(self) -> Float[Tensor, "d_model d_vocab"]: ...

    @property
    def final_norm(self) -> FinalNorm: ...

    @property
    def settings(self) -> AntipodalSettings: ...

    def batches(self) -> Iterable[ActivationBatch]: ...


@dataclass(frozen=True)
class StreamInputs:
    """A plain :class:`AntipodalInputs`: an SAE, ``W_U``, settings, a function giving the stream, and the
    final norm."""

    sae: Any
    W_U: Tensor
    settings: AntipodalSettings
    stream: Callable[[], Iterable[ActivationBatch]]
    final_norm: FinalNorm

    def batches(self) -> Iterable[ActivationBatch]:
        return self.stream()


def hooked_transformer_batches(model: Any, hook_name: str, token_batches: Iterable[Tensor], *,
                               with_layers: bool = False) -> Iterator[ActivationBatch]:
    """The stream of a TransformerLens ``HookedTransformer`` on ``token_batches`` (``(batch, pos)`` ids).

    ``mask`` drops position 0 when the model prepends BOS, every BOS token and every pad token (the
    tokenizer's ids), so densities are over text tokens. ``logits`` are the model's own (final norm and
    ``W_U`` included); ``layer_resids`` are ``blocks.{l}.hook_resid_post`` for every layer if asked.
    """
    layer_names = [f"blocks.{layer}.hook_resid_post" for layer in range(model.cfg.n_layers)] if with_layers else []
    wanted = {hook_name, *layer_names}
    tok = getattr(model, "tokenizer", None)
    special = {i for i in (getattr(tok, "bos_token_id", None), getattr(tok, "pad_token_id", None)) if i is not None}
    for tokens in token_batches:
        if tokens.ndim != 2:
            raise ValueError(f"token batches must be (batch, pos), got shape {tuple(tokens.shape)}")
        with torch.no_grad():
            logits, cache = model.run_with_cache(tokens, names_filter=lambda name: name in wanted)
        mask = torch.ones_like(tokens, dtype=torch.bool)
        if getattr(model.cfg, "default_prepend_bos", False):
            mask[:, 0] = False
        for token_id in special:
            mask &= tokens != token_id
        layers = torch.stack([cache[n].flatten(0, 1) for n in layer_names]) if with_layers else None
        yield ActivationBatch(cache[hook_name].flatten(0, 1), mask.flatten().to(logits.device),
                              logits.flatten(0, 1), layers)


# ------------------------------------------------------------------------------------------- measure


#: the readings of "W_U" (``claims.antipodal.WU_READINGS``): the raw unembedding, and W_U as TransformerLens's
#: default loading processes it (final-norm gain folded, centred; the trivial all-ones direction excluded)
READINGS = ("processed", "raw")


class ReadingArrays(NamedTuple):
    """Everything that depends on which W_U is read (one per reading of :data:`READINGS`)."""

    u1: Float[Tensor, " d_model"]
    """``U_{-1}`` (sign arbitrary)."""
    spectrum: Float[Tensor, " r"]
    """Every singular value of this W_U, descending (the excluded trivial direction's left out)."""
    rho_wu_dec: Float[Tensor, " d_sae"]
    """Composition of ``W_dec[i]`` with ``U[:, -k_wu:]`` (§3.2, Fig 1b y-axis)."""
    dec_u1: Float[Tensor, " d_sae"]
    """``cos(W_dec[i], U_{-1})`` (sign arbitrary; App B, Fig 6)."""
    pair: tuple[int, int] | None
    """The pair (:func:`~replication.metrics.antipodal.u1_pair`), ``None`` if no latent is dense."""
    pair_acts: Float[Tensor, "tokens 2"] | None
    """``f_i, f_j`` of the pair on every counted token."""
    resid_u1: Float[Tensor, " tokens"]
    """``x . U_{-1}`` on every counted token (sign arbitrary)."""
    u1_fraction_per_layer: Float[Tensor, " n_layers"] | None
    """Mean over counted tokens of ``|x . U_{-1}| / ||x||`` per layer, if the stream has layers."""


class AntipodalArrays(NamedTuple):
    """Every array the claims (and the report's plots) read, for one SAE on one token stream."""

    density: Float[Tensor, " d_sae"]
    """Activation frequency over the counted tokens (§2)."""
    rho_pc_enc: Float[Tensor, " d_sae"]
    """Composition of ``W_enc[:, i]`` with the top-k_pc PCs (§3.1, Eq. 1, Fig 1a)."""
    rho_pc_dec: Float[Tensor, " d_sae"]
    """Composition of ``W_dec[i]`` with the top-k_pc PCs (§3.2, Fig 1b x-axis)."""
    score: Float[Tensor, " d_sae"]
    """Pairwise score s_i (§3.3)."""
    partner: Int[Tensor, " d_sae"]
    """Argmax partner of s_i."""
    enc_cos_partner: Float[Tensor, " d_sae"]
    dec_cos_partner: Float[Tensor, " d_sae"]
    encdec_cos: Float[Tensor, " d_sae"]
    """``cos(W_enc[:, i], W_dec[i])`` (App B, Fig 5a)."""
    readings: dict[str, ReadingArrays]
    """The W_U-dependent arrays per reading (:data:`READINGS`)."""
    absmax_enc_cos: Float[Tensor, " d_sae"]
    """Encoder cosine with the max-|cos| encoder partner, chosen separately from the decoder's (App B, Fig 5c)."""
    absmax_dec_cos: Float[Tensor, " d_sae"]
    """Decoder cosine with the max-|cos| decoder partner (App B, Fig 5c)."""
    entropy: Float[Tensor, " tokens"] | None
    """Output entropy in nats on every counted token, if the stream has logits."""
    pc_variances: Float[Tensor, " k_pc"]
    n_tokens: int
    settings: AntipodalSettings


def unembedding_readings(W_U: Tensor, final_norm: FinalNorm, k_wu: int) -> dict[str, WUSpectrum]:
    """The bottom W_U singular vectors and spectrum under each reading of :data:`READINGS`."""
    ones = torch.full((W_U.shape[0],), W_U.shape[0] ** -0.5, dtype=torch.float64, device=W_U.device)
    return {
        "raw": unembedding_spectrum(W_U.detach(), k_wu),
        "processed": unembedding_spectrum(W_U.detach(), k_wu, processed=(final_norm.weight, final_norm.centred),
                                          exclude=ones if final_norm.centred else None),
    }


def _encode(sae: Any, resid: Tensor) -> Tensor:
    with torch.no_grad():
        return sae.encode(resid)


def _checked(batch: ActivationBatch, device: torch.device, d_model: int) -> tuple[Tensor, Tensor]:
    resid, mask = batch.resid.to(device), batch.mask.to(device)
    if resid.ndim != 2 or resid.shape[1] != d_model or mask.shape != resid.shape[:1]:
        raise ValueError(f"batch resid {tuple(resid.shape)} / mask {tuple(mask.shape)} do not match "
                         f"(tokens, d_model = {d_model}) / (tokens,)")
    return resid, mask


def _latent_acts(inputs: AntipodalInputs, latents: list[int]) -> Tensor:
    """``f[:, latents]`` on every counted token: a second pass over the stream (only when the pair was not
    among the candidates recorded on the first)."""
    sae = inputs.sae
    W_dec = sae.W_dec.detach()
    out = []
    for batch in inputs.batches():
        resid, mask = _checked(batch, W_dec.device, W_dec.shape[1])
        out.append(_encode(sae, resid.to(W_dec.dtype))[:, latents][mask].to("cpu", torch.float64))
    return torch.cat(out)


def measure(inputs: AntipodalInputs) -> AntipodalArrays:
    """One pass over ``inputs``: the per-latent and per-token arrays of :class:`AntipodalArrays`.

    The pair of each reading (the dense latent nearest ``U_{-1}`` and its s-partner) is known only after
    the densities, so the pass records the activations of the ``pair_candidates`` latents with the largest
    ``|cos(W_dec[i], U_{-1})|`` under each reading and their partners; if a reading's pair is not among them
    (its nearest latents are all sparse), a second pass reads that pair alone.
    """
    sae, st = inputs.sae, inputs.settings
    W_enc, W_dec = sae.W_enc.detach(), sae.W_dec.detach()
    d_model = W_dec.shape[1]
    if inputs.W_U.shape[0] != d_model:
        raise ValueError(f"W_U is {tuple(inputs.W_U.shape)} but the SAE's d_in is {d_model}: expected "
                         "W_U of shape (d_model, d_vocab) at the SAE's model")
    pairs = pairwise_scores(W_enc, W_dec, chunk_size=st.chunk_size)
    spectra = unembedding_readings(inputs.W_U.detach(), inputs.final_norm, st.k_wu)
    dec64, enc64 = W_dec.to(torch.float64), W_enc.T.to(torch.float64)
    dec_unit = dec64 / dec64.norm(dim=1, keepdim=True)
    u1 = {r: spectra[r].U[:, -1].to(dec64) for r in READINGS}
    dec_u1 = {r: dec_unit @ u1[r] for r in READINGS}
    top = [int(i) for r in READINGS for i in dec_u1[r].abs().argsort(descending=True, stable=True)[:st.pair_candidates]]
    candidates = list(dict.fromkeys(top + [int(pairs.partner[i]) for i in top]))
    column = {latent: c for c, latent in enumerate(candidates)}

    counts = torch.zeros(W_dec.shape[0], dtype=torch.int64, device=W_dec.device)
    sums: MomentSums | None = None
    cand_acts, entropy = [], []
    resid_u1: dict[str, list[Tensor]] = {r: [] for r in READINGS}
    layer_frac: dict[str, Tensor | None] = {r: None for r in READINGS}
    n_tokens = n_batches = 0
    for batch in inputs.batches():
        resid, mask = _checked(batch, W_dec.device, d_model)
        f = _encode(sae, resid.to(W_dec.dtype))
        counts += fire_counts(f, mask)
        batch_sums = moment_sums(resid, mask)
        sums = batch_sums if sums is None else add_moments(sums, batch_sums)
        kept = resid[mask]
        cand_acts.append(f[:, candidates][mask].to("cpu", torch.float32))
        for r in READINGS:
            resid_u1[r].append(projection(kept, u1[r].to(kept.device)))
            if batch.layer_resids is not None:
                fr = torch.stack([norm_fraction_along(layer[mask], u1[r].to(layer.device)).sum()
                                  for layer in batch.layer_resids.to(W_dec.device)])
                layer_frac[r] = fr if layer_frac[r] is None else layer_frac[r] + fr
        if batch.logits is not None:
            entropy.append(output_entropy(batch.logits.to(W_dec.device)[mask]))
        n_tokens += int(mask.sum())
        n_batches += 1
    if sums is None or n_tokens < 2:
        raise ValueError(f"the token stream held {n_tokens} counted tokens; need at least 2")
    if entropy and len(entropy) != n_batches:
        raise ValueError("some batches have logits and some do not")
    density = counts.to(torch.float64).cpu() / n_tokens
    acts = torch.cat(cand_acts)

    readings = {}
    for r in READINGS:
        pair = u1_pair(dec_u1[r].abs().cpu(), density, pairs.partner.cpu(), st.dense_threshold)
        pair_acts = None
        if pair is not None:
            if all(p in column for p in pair):
                pair_acts = acts[:, [column[p] for p in pair]].to(torch.float64)
            else:
                pair_acts = _latent_acts(inputs, list(pair))
        readings[r] = ReadingArrays(
            u1=u1[r].cpu(), spectrum=spectra[r].spectrum.cpu(),
            rho_wu_dec=composition(dec64, spectra[r].U.T.to(dec64)).cpu(), dec_u1=dec_u1[r].cpu(), pair=pair,
            pair_acts=pair_acts, resid_u1=torch.cat(resid_u1[r]).cpu(),
            u1_fraction_per_layer=None if layer_frac[r] is None else (layer_frac[r] / n_tokens).cpu())

    every = torch.arange(W_dec.shape[0], device=W_dec.device)
    _, absmax_enc = abs_max_cosine_partners(W_enc.T, every, st.chunk_size)
    _, absmax_dec = abs_max_cosine_partners(W_dec, every, st.chunk_size)
    pcs = top_principal_components(sums, st.k_pc)
    return AntipodalArrays(
        density=density,
        rho_pc_enc=composition(enc64, pcs.components.to(enc64)).cpu(),
        rho_pc_dec=composition(dec64, pcs.components.to(dec64)).cpu(),
        score=pairs.score.cpu(), partner=pairs.partner.cpu(),
        enc_cos_partner=pairs.enc_cos.cpu(), dec_cos_partner=pairs.dec_cos.cpu(),
        encdec_cos=encoder_decoder_cosine(W_enc, W_dec).cpu(),
        readings=readings,
        absmax_enc_cos=absmax_enc.cpu(), absmax_dec_cos=absmax_dec.cpu(),
        entropy=torch.cat(entropy).cpu() if entropy else None,
        pc_variances=pcs.variances.cpu(), n_tokens=n_tokens, settings=st,
    )


def _correlation_or_none(fn: Callable[[Tensor, Tensor], Correlation], x: Tensor, y: Tensor) -> Correlation:
    """``fn(x, y)``, except that a constant input has no correlation: (0, p = 1). A pair whose activation
    difference never varies carries no signal, so "it tracks U_{-1}" is false, not undefined."""
    if bool((x == x[0]).all()) or bool((y == y[0]).all()):
        return Correlation(0.0, 1.0)
    return fn(x, y)


def _reading_metrics(a: AntipodalArrays, r: ReadingArrays) -> dict[str, float]:
    """The metrics that read W_U, under one reading (named without the ``@reading`` suffix here)."""
    st = a.settings
    wu_rank = rank_fraction(r.rho_wu_dec)
    median = float(r.spectrum.median())
    out: dict[str, float] = {
        # is there a dark subspace at all? (reported beside every U_{-1} claim)
        "wu_sv_min_over_median": float(r.spectrum[-1]) / median if median > 0 else 0.0,
        "wu_sv_min_over_next": float(r.spectrum[-1] / r.spectrum[-2]) if float(r.spectrum[-2]) > 0 else 0.0,
    }
    # §3.2, Fig 1b
    co = _correlation_or_none(spearman, a.rho_pc_dec, r.rho_wu_dec)
    out["spearman_rho_pc_vs_rho_wu"], out["p_spearman_rho_pc_vs_rho_wu"] = co.statistic, co.pvalue
    top = torch.argsort(a.rho_pc_dec, descending=True, stable=True)[:st.top_outliers]
    out["top_outliers_in_both"] = float((wu_rank[top] >= st.wu_quantile).to(torch.float64).mean())
    # §3.2, Fig 1c: the outliers with high composition in both subspaces, and their s-partners
    both = (a.rho_pc_dec > st.rho_threshold) & (wu_rank >= st.wu_quantile)
    antipodal = (a.enc_cos_partner <= -st.antipodal_cosine) & (a.dec_cos_partner <= -st.antipodal_cosine)
    out["n_both_outliers"] = float(both.sum())
    out["frac_both_outliers_antipodal"] = float(fraction_where(antipodal, both))
    # the pair: §3.2 / Fig 2a / Fig 5b / Fig 6
    if r.pair is None:  # no dense latent: the precondition n_dense >= 1 fails; values that would fail too
        out.update(u1_pair_s=0.0, u1_pair_max_cosine=1.0, u1_pair_min_density=0.0,
                   u1_pair_coactivation_rate=1.0, abs_corr_u1_pair_diff=0.0, u1_pair_u1_projection_product=0.0,
                   u1_pair_min_wu_rank=0.0, u1_pair_abs_cos_u1=0.0)
    else:
        i, j = r.pair
        diff = _correlation_or_none(pearson, r.pair_acts[:, 0] - r.pair_acts[:, 1], r.resid_u1)
        out.update(
            u1_pair_s=float(a.score[i]),
            u1_pair_max_cosine=float(torch.maximum(a.enc_cos_partner[i], a.dec_cos_partner[i])),
            u1_pair_min_density=float(torch.minimum(a.density[i], a.density[j])),
            u1_pair_coactivation_rate=float(coactivation_rate(r.pair_acts[:, 0], r.pair_acts[:, 1])),
            abs_corr_u1_pair_diff=abs(diff.statistic),
            u1_pair_u1_projection_product=float(r.dec_u1[i] * r.dec_u1[j]),
            u1_pair_min_wu_rank=float(torch.minimum(wu_rank[i], wu_rank[j])),
            u1_pair_abs_cos_u1=float(r.dec_u1[i].abs()),
        )
    # §3.2, Fig 2c
    if a.entropy is not None:
        ent = _correlation_or_none(pearson, r.resid_u1, a.entropy)
        out["abs_corr_u1_entropy"], out["p_corr_u1_entropy"] = abs(ent.statistic), ent.pvalue
    # §3.2, Fig 2b
    if r.u1_fraction_per_layer is not None:
        trend = depth_trend(r.u1_fraction_per_layer)
        out["final_minus_max_earlier_u1_fraction"] = trend.final_minus_max_earlier
        out["spearman_layer_u1_fraction"] = trend.spearman.statistic
    return out


def summarise(a: AntipodalArrays) -> dict[str, float]:
    """The claims' metrics from the arrays (names as in :mod:`claims.antipodal`; ``metric@reading`` for every
    metric that reads W_U)."""
    st = a.settings
    dense = a.density > st.dense_threshold
    outliers = a.rho_pc_enc > st.rho_threshold
    paired = a.score > st.pair_threshold
    very_dense = a.density > st.very_dense_threshold
    dense_outliers = outliers & dense
    out: dict[str, float] = {
        "n_tokens": float(a.n_tokens),
        "n_dense": float(dense.sum()),
        "n_outliers": float(outliers.sum()),
        "n_very_dense": float(very_dense.sum()),
        "n_dense_outliers": float(dense_outliers.sum()),
        "n_high_s": float(paired.sum()),
        "max_s": float(a.score.max()),
        # §3.1
        "frac_rho_enc_low_and_sparse": float(((a.rho_pc_enc < st.rho_threshold)
                                              & (a.density < st.dense_threshold)).to(torch.float64).mean()),
        "frac_outliers_dense": float(fraction_where(dense, outliers)),
        "frac_dense_outliers": float(fraction_where(outliers, dense)),
        # §3.3
        "frac_very_dense_paired": float(fraction_where(paired, very_dense)),
        # App B, Fig 5c: encoder and decoder partners chosen separately by max |cos|
        "n_high_s_with_positive_partner_cos": float((paired & ((a.absmax_enc_cos > 0)
                                                               | (a.absmax_dec_cos > 0))).sum()),
    }
    for name, reading in a.readings.items():
        out.update({metric_key(m, name): v for m, v in _reading_metrics(a, reading).items()})
    # §3.4, Fig 4 (judged on TopK SAEs only), with the rank correlations' bootstrap intervals
    for key, other in (("rho_s", a.score), ("rho_density", a.density)):
        corr = _correlation_or_none(spearman, a.rho_pc_enc, other)
        out[f"spearman_{key}"], out[f"p_spearman_{key}"] = corr.statistic, corr.pvalue
        if corr.pvalue < 1.0:
            low, high = spearman_bootstrap_ci(a.rho_pc_enc, other, n_resamples=st.bootstrap_resamples)
        else:
            low = high = 0.0
        out[f"spearman_{key}_ci95_low"], out[f"spearman_{key}_ci95_high"] = low, high
    # App B, Fig 5a: median enc-dec cosine of dense outliers minus the rest's (0 if either set is empty)
    if bool(dense_outliers.any()) and bool((~dense_outliers).any()):
        out["median_encdec_cos_outliers_minus_rest"] = float(a.encdec_cos[dense_outliers].median()
                                                             - a.encdec_cos[~dense_outliers].median())
    else:
        out["median_encdec_cos_outliers_minus_rest"] = 0.0
    return out


_PER_READING = ("wu_sv_min_over_median", "wu_sv_min_over_next", "spearman_rho_pc_vs_rho_wu", "top_outliers_in_both",
                "n_both_outliers", "frac_both_outliers_antipodal", "u1_pair_s",
                "u1_pair_max_cosine", "u1_pair_min_density", "u1_pair_coactivation_rate", "abs_corr_u1_pair_diff",
                "u1_pair_u1_projection_product", "u1_pair_min_wu_rank", "u1_pair_abs_cos_u1")
_PER_READING_LOGITS = ("abs_corr_u1_entropy", "p_corr_u1_entropy")
_PER_READING_LAYERS = ("final_minus_max_earlier_u1_fraction", "spearman_layer_u1_fraction")


def _per_reading(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(metric_key(m, r) for m in names for r in READINGS)


#: what :func:`summarise` provides from a stream with logits (every tier) and with layers too (LM tiers)
PROVIDES_WITH_LOGITS = frozenset({
    "frac_rho_enc_low_and_sparse", "frac_outliers_dense", "n_outliers", "frac_dense_outliers", "n_dense",
    "frac_very_dense_paired", "n_very_dense", "spearman_rho_s", "p_spearman_rho_s", "spearman_rho_density",
    "p_spearman_rho_density", "spearman_rho_s_ci95_low", "spearman_rho_s_ci95_high",
    "spearman_rho_density_ci95_low", "spearman_rho_density_ci95_high",
    "median_encdec_cos_outliers_minus_rest", "n_dense_outliers", "n_high_s", "max_s",
    "n_high_s_with_positive_partner_cos",
}) | _per_reading(_PER_READING + _PER_READING_LOGITS)
PROVIDES_WITH_LAYERS = PROVIDES_WITH_LOGITS | _per_reading(_PER_READING_LAYERS)


# ------------------------------------------------------------------------------- targets -> inputs

InputsFactory = Callable[[Target, "int | None"], AntipodalInputs]
_INPUTS: dict[str, InputsFactory] = {}
_ARRAYS: dict[tuple[str, int | None], AntipodalArrays] = {}


def arrays(target: Target, seed: int | None) -> AntipodalArrays:
    """The full arrays of a registered target and seed (memoised; the report plots from them)."""
    key = (target.name, seed)
    if key not in _ARRAYS:
        try:
            factory = _INPUTS[target.name]
        except KeyError:
            raise KeyError(f"no antipodal inputs for target {target.name!r}; known: {sorted(_INPUTS)}") from None
        _ARRAYS[key] = measure(factory(target, seed))
    return _ARRAYS[key]


def run(target: Target, seed: int | None) -> dict[str, float]:
    """``Analysis.run``: the claims' metrics of one target and seed."""
    return summarise(arrays(target, seed))


#: at most this many counted tokens of the per-token arrays go into the report's saved arrays
FIGURE_TOKENS = 20_000


#: the reading the figures draw (the claims' primary reading, ``claims.antipodal.WU_READINGS``)
FIGURE_READING = "processed"


def figure_arrays(a: AntipodalArrays, max_tokens: int = FIGURE_TOKENS) -> dict[str, Any]:
    """The arrays the report's figures read (:mod:`replication.analyses.antipodal_figures`), kept small.

    Per latent (float32): density, the three compositions, s_i, the partner cosines, the enc-dec cosine and
    ``cos(W_dec[i], U_{-1})``. Per token: ``f_i, f_j`` of the pair, ``x . U_{-1}`` and the entropy on one
    subsample of at most ``max_tokens`` counted tokens, the same tokens for all three (a fixed-seed random
    subset, kept in stream order: deterministic, and not aliased with positions in a sequence as a stride
    would be). Everything that reads W_U is under :data:`FIGURE_READING` (``top_pair`` is that reading's
    pair, absent where no latent is dense), except the W_U spectra, saved for both readings
    (``spectrum_raw``, ``spectrum_processed``). The Pearson correlations the figures quote are over *all*
    counted tokens. Settings (k and thresholds) and counts are saved as scalars. Size: 11 float32 arrays
    of d_sae and 4 of ``max_tokens`` (~1.7 MB uncompressed at d_sae = 32k).
    """
    r = a.readings[FIGURE_READING]
    n = len(r.resid_u1)
    if n > max_tokens:
        keep = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:max_tokens].sort().values
    else:
        keep = torch.arange(n)
    st = a.settings

    def f32(t: Tensor | None) -> Tensor | None:
        return None if t is None else t.detach().to("cpu", torch.float32)

    out: dict[str, Any] = {
        "density": f32(a.density), "rho_pc_enc": f32(a.rho_pc_enc), "rho_pc_dec": f32(a.rho_pc_dec),
        "rho_wu_dec": f32(r.rho_wu_dec), "score": f32(a.score), "enc_cos_partner": f32(a.enc_cos_partner),
        "dec_cos_partner": f32(a.dec_cos_partner), "encdec_cos": f32(a.encdec_cos), "dec_u1": f32(r.dec_u1),
        "absmax_enc_cos": f32(a.absmax_enc_cos), "absmax_dec_cos": f32(a.absmax_dec_cos),
        "resid_u1": f32(r.resid_u1[keep]),
        "entropy": None if a.entropy is None else f32(a.entropy[keep]),
        "u1_fraction_per_layer": f32(r.u1_fraction_per_layer),
        "pc_variances": f32(a.pc_variances),
        **{f"spectrum_{name}": f32(ra.spectrum) for name, ra in a.readings.items()},
        "n_tokens": a.n_tokens, "n_tokens_saved": len(keep),
        "k_pc": st.k_pc, "k_wu": st.k_wu, "dense_threshold": st.dense_threshold,
        "very_dense_threshold": st.very_dense_threshold, "rho_threshold": st.rho_threshold,
        "pair_threshold": st.pair_threshold,
    }
    if r.pair is not None:
        diff = _correlation_or_none(pearson, r.pair_acts[:, 0] - r.pair_acts[:, 1], r.resid_u1)
        out.update(top_pair=torch.tensor(r.pair, dtype=torch.int64), pair_acts=f32(r.pair_acts[keep]),
                   pearson_pair_diff_u1=diff.statistic)
    if a.entropy is not None:
        out["pearson_u1_entropy"] = _correlation_or_none(pearson, r.resid_u1, a.entropy).statistic
    return out


def report_arrays(target: Target, seed: int | None) -> dict[str, Any]:
    """``Analysis.arrays``: :func:`figure_arrays` of the (memoised) measurement of one target and seed."""
    return figure_arrays(arrays(target, seed))


def register_tier(tier: Tier, targets: dict[Target, InputsFactory], provides: frozenset[str],
                  arrays: Callable[[Target, int | None], dict[str, Any]] | None = report_arrays) -> Analysis:
    """Register the antipodal analysis on ``tier`` with the targets and how to make each one's inputs.

    ``arrays`` (default :func:`report_arrays`) is what the runner saves next to the records for the
    report's figures; ``None`` saves nothing.
    """
    for target, factory in targets.items():
        _INPUTS[target.name] = factory
    return ANALYSES.register(Analysis(f"antipodal-{tier.value}", tier, tuple(targets), provides, run,
                                      arrays=arrays))


# ========================================================================================= toy tier
# Synthetic data (toy_models.AntipodalToy), SAEs trained with sae-lens; everything toy-specific is below.

from replication.training import ToySAESpec, train_toy_sae  # noqa: E402
from toy_models.antipodal import AntipodalToy  # noqa: E402

TOY_D_SAE = 128
TOY_N_EVAL = 32_768
TOY_EVAL_BATCH = 4_096
_TOY_TRAIN = dict(training_samples=256 * 3000, batch_size=256, lr=1e-3)
#: JumpReLU as in Gemma Scope: DeepMind's step L0 loss, straight-through gradient to the threshold only
#: (sae-lens defaults jumprelu_sparsity_loss_mode="step", jumprelu_ste_to_input=False); bandwidth and
#: initial threshold at sae-lens's defaults (0.05 / 0.01) for a 3,000-step run. l0_coefficient 0.1 chosen
#: by L0 against the data's true L0 (~1.6 sparse + 1 dense): on seed 0, 0.03 / 0.1 / 0.3 gave L0
#: 5.6 / 2.3 / 1.8 and explained variance 0.90 / 0.86 / 0.83.
TOY_JUMPRELU = ToySAESpec.make("jumprelu", TOY_D_SAE, l0_coefficient=0.1, **_TOY_TRAIN)
#: TopK as in the GPT-2 (OpenAI) and LLaMA Scope SAEs; k = 3, the data's true L0 rounded.
TOY_TOPK = ToySAESpec.make("topk", TOY_D_SAE, k=3, **_TOY_TRAIN)
#: ReLU + L1 (sae-lens ``standard``: decoder-norm-weighted L1), the pre-JumpReLU baseline. l1_coefficient
#: 0.3 by reconstruction at comparable L0: on seed 0, 0.3 / 1 / 3 gave L0 11.8 / 11.7 / 0.9 and explained
#: variance 0.876 / 0.625 / 0.083 (53% dead at 3), so 0.3 dominates.
TOY_RELU = ToySAESpec.make("standard", TOY_D_SAE, l1_coefficient=0.3, **_TOY_TRAIN)

_TOY_DESC = ("128 Zipfian sparse features + a dense signed signal z ~ N(0.5, 1) along u = U_{-1} of a toy "
             "W_U, in 32 dims; logits LayerNorm(x) @ W_U")
#: §3.4 makes its trend claim for TopK SAEs only
TOPK_ONLY = (("antipodal.cross_model_trend", "§3.4 makes the trend claim for TopK SAEs (GPT-2, LLaMA) only"),)
TOY_JUMPRELU_TARGET = Target("toy-antipodal-jumprelu", Tier.TOY, f"{_TOY_DESC}; sae-lens JumpReLU, d_sae = 128",
                             excluded=TOPK_ONLY)
TOY_TOPK_TARGET = Target("toy-antipodal-topk", Tier.TOY, f"{_TOY_DESC}; sae-lens TopK k = 3, d_sae = 128")
TOY_RELU_TARGET = Target("toy-antipodal-relu", Tier.TOY, f"{_TOY_DESC}; sae-lens ReLU + L1, d_sae = 128",
                         excluded=TOPK_ONLY)
TOY_CONTROL_TARGET = Target("toy-antipodal-control", Tier.TOY,
                            "negative control: the same data without the dense signal; sae-lens JumpReLU",
                            control=True, excluded=TOPK_ONLY)
_TOY_SPECS = {TOY_JUMPRELU_TARGET.name: (TOY_JUMPRELU, True), TOY_TOPK_TARGET.name: (TOY_TOPK, True),
              TOY_RELU_TARGET.name: (TOY_RELU, True), TOY_CONTROL_TARGET.name: (TOY_JUMPRELU, False)}


def toy_inputs(target: Target, seed: int | None) -> StreamInputs:
    """A trained toy SAE, the toy ``W_U`` and a held-out stream (no BOS in synthetic data: mask all True)."""
    if seed is None:
        raise ValueError(f"toy target {target.name} needs an integer seed")
    spec, dense = _TOY_SPECS[target.name]
    data = AntipodalToy(dense=dense, seed=seed)
    sae = train_toy_sae(spec, data, seed).sae

    def stream() -> Iterator[ActivationBatch]:
        gen = torch.Generator().manual_seed(1_000_003 + seed)  # independent of training's generator
        for _ in range(TOY_N_EVAL // TOY_EVAL_BATCH):
            x = data.sample(TOY_EVAL_BATCH, gen)
            yield ActivationBatch(x, torch.ones(len(x), dtype=torch.bool), data.logits(x))

    # logits = LayerNorm(x) @ W_U with a parameter-free LayerNorm: no gain, centring
    return StreamInputs(sae, data.W_U, AntipodalSettings.scaled(data.d_in), stream, FinalNorm(None, centred=True))


register_tier(Tier.TOY, {t: toy_inputs for t in (TOY_JUMPRELU_TARGET, TOY_TOPK_TARGET, TOY_RELU_TARGET,
                                                  TOY_CONTROL_TARGET)},
              PROVIDES_WITH_LOGITS)

# Expectations (primary reading), in words: the numbers are in the test output and the report.
_TOY_SCALE = ("the toy's top PCs (300/2304 of 32 dims: 4) are u plus the directions of the most frequent "
              "(Zipfian) sparse features, whose latents are sparse outliers; 3 of 128 latents is already more "
              "than the paper's 1%")
_TOY_RANKS = ("only u is both a top PC and a bottom W_U direction, so a rank correlation over 128 latents rests "
              "on the pair; the rest of the latents carry no continuum of partial composition")
_RELU_TWINS = ("ReLU+L1 splits the dense signal over a dozen same-sign latents (twins), so the pair nearest U_{-1} "
               "is a near-duplicate, not an antipodal pair")
_J, _T, _R, _C = TOY_JUMPRELU_TARGET.name, TOY_TOPK_TARGET.name, TOY_RELU_TARGET.name, TOY_CONTROL_TARGET.name
for _claim, _target, _status, _reason in (
    ("antipodal.sparse_bulk", _J, Status.NOT_REPLICATED, _TOY_SCALE),
    ("antipodal.sparse_bulk", _T, Status.NOT_REPLICATED, _TOY_SCALE),
    ("antipodal.sparse_bulk", _R, Status.NOT_REPLICATED, f"{_TOY_SCALE}; {_RELU_TWINS}"),
    ("antipodal.outliers_mostly_dense", _J, Status.NOT_REPLICATED, f"{_TOY_SCALE}: the dense pair is outnumbered"),
    ("antipodal.outliers_mostly_dense", _T, Status.NOT_REPLICATED,
     f"{_TOY_SCALE}: the dense pair is outnumbered on most seeds"),
    ("antipodal.pc_wu_co_composition", _J, Status.NOT_REPLICATED, _TOY_RANKS),
    ("antipodal.pc_wu_co_composition", _T, Status.NOT_REPLICATED, _TOY_RANKS),
    ("antipodal.pairs_are_antipodal", _T, Status.NOT_REPLICATED,
     "the U_{-1} pair is antipodal, but TopK (k = 3) leaves dead and near-dead latents whose decoders lie in "
     "both subspaces (near u) without an antipodal partner, and they outnumber the pair"),
    ("antipodal.cross_model_trend", _T, Status.NOT_REPLICATED, _TOY_RANKS),
    ("antipodal.pairs_are_antipodal", _R, Status.NOT_REPLICATED, _RELU_TWINS),
    ("antipodal.pair_never_coactive", _R, Status.NOT_REPLICATED, f"{_RELU_TWINS}: the twins fire together"),
    ("antipodal.pair_diff_tracks_u1", _R, Status.NOT_REPLICATED, _RELU_TWINS),
    ("antipodal.enc_dec_aligned_when_dense", _R, Status.NOT_REPLICATED,
     f"{_RELU_TWINS}; the twins' encoders are not aligned with their decoders"),
    ("antipodal.no_duplicate_pairs", _R, Status.NOT_REPLICATED, _RELU_TWINS),
    # negative control: every claim that presupposes the dense signal or a dense pair must not replicate
    ("antipodal.outliers_mostly_dense", _C, Status.NOT_REPLICATED, "no dense latent"),
    ("antipodal.dense_are_outliers", _C, Status.NOT_REPLICATED, "no dense latent"),
    ("antipodal.pc_wu_co_composition", _C, Status.NOT_REPLICATED, "nothing lies along U_{-1} but noise"),
    ("antipodal.pairs_are_antipodal", _C, Status.INCONCLUSIVE, "no dense latent, so no pair to judge"),
    ("antipodal.pair_never_coactive", _C, Status.INCONCLUSIVE, "no dense latent, so no pair to judge"),
    ("antipodal.pair_diff_tracks_u1", _C, Status.INCONCLUSIVE, "no dense latent, so no pair to judge"),
    ("antipodal.u1_tracks_entropy", _C, Status.NOT_REPLICATED, "no signal along U_{-1} but noise"),
    ("antipodal.dense_latents_paired", _C, Status.NOT_REPLICATED, "no latent with density > 0.3"),
    ("antipodal.enc_dec_aligned_when_dense", _C, Status.NOT_REPLICATED, "no dense outlier"),
    ("antipodal.no_duplicate_pairs", _C, Status.INCONCLUSIVE, "no latent with s > 0.9: nothing to judge"),
):
    ANALYSES.expect(_claim, _target, _status, _reason)


# The report's figures of this paper (drawn from the arrays saved by ``report_arrays``).
from replication.analyses import antipodal_figures  # noqa: E402,F401
