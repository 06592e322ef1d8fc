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
  ``W_U``) or, in a stream held in memory, ``entropy`` at the counted tokens computed from them, and ``layer_resids`` ``(n_layers, tokens, d_model)`` (``hook_resid_post`` of every layer,
  for the depth trend of Fig 2b).

:func:`replication.lm.hooks.activation_stream` makes that stream from a TransformerLens ``HookedTransformer`` and
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

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol

import torch
from jaxtyping import Float, Int
from torch import Tensor

from replication.claims import metric_key
from replication.density import FireCounter
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
from replication.lm.hooks import ActivationBatch
from replication.targets import Measured, MetricSet, PerReading, metric

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
    counter = FireCounter(sae, latents)
    out = []
    for batch in inputs.batches():
        resid, mask = _checked(batch, W_dec.device, W_dec.shape[1])
        out.append(counter.update(resid.to(W_dec.dtype), mask).to("cpu", torch.float64))
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

    counter = FireCounter(sae, candidates)  # fire counts at the encoder GEMM's speed (replication.density)
    sums: MomentSums | None = None
    cand_acts, entropy = [], []
    resid_u1: dict[str, list[Tensor]] = {r: [] for r in READINGS}
    layer_frac: dict[str, Tensor | None] = {r: None for r in READINGS}
    n_tokens = n_batches = 0
    for batch in inputs.batches():
        resid, mask = _checked(batch, W_dec.device, d_model)
        # exactly fire_counts(sae.encode(x), mask) and sae.encode(x)[:, candidates][mask]
        cand_acts.append(counter.update(resid.to(W_dec.dtype), mask).to("cpu", torch.float32))
        batch_sums = moment_sums(resid, mask)
        sums = batch_sums if sums is None else add_moments(sums, batch_sums)
        kept = resid[mask]
        for r in READINGS:
            resid_u1[r].append(projection(kept, u1[r].to(kept.device)))
            if batch.layer_resids is not None:
                fr = torch.stack([norm_fraction_along(layer[mask], u1[r].to(layer.device)).sum()
                                  for layer in batch.layer_resids.to(W_dec.device)])
                layer_frac[r] = fr if layer_frac[r] is None else layer_frac[r] + fr
        if batch.entropy is not None:  # a stream held in memory keeps the entropy, not the logits
            entropy.append(batch.entropy.to(W_dec.device))
        elif batch.logits is not None:
            entropy.append(output_entropy(batch.logits.to(W_dec.device)[mask]))
        n_tokens += int(mask.sum())
        n_batches += 1
    if sums is None or n_tokens < 2:
        raise ValueError(f"the token stream held {n_tokens} counted tokens; need at least 2")
    if entropy and len(entropy) != n_batches:
        raise ValueError("some batches have logits and some do not")
    density = counter.counts.to(torch.float64).cpu() / n_tokens
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


@dataclass(frozen=True)
class AntipodalMetrics(MetricSet):
    """What :func:`summarise` gives from a stream with logits (every tier); ``PerReading``: one per W_U reading."""

    READINGS: ClassVar[tuple[str, ...]] = READINGS
    n_dense: float = metric("latents with density > dense_threshold (§2)")
    n_outliers: float = metric("latents whose encoder composition rho_pc_enc exceeds rho_threshold")
    n_dense_outliers: float = metric("latents both dense and outliers")
    n_very_dense: float = metric("latents with density > very_dense_threshold (§3.3)")
    n_high_s: float = metric("latents with pairwise score s_i > pair_threshold")
    max_s: float = metric("the largest pairwise score s_i")
    frac_rho_enc_low_and_sparse: float = metric("fraction of latents with low rho_pc_enc and not dense (§3.1)")
    frac_outliers_dense: float = metric("fraction of outliers that are dense (§3.1)")
    frac_dense_outliers: float = metric("fraction of dense latents that are outliers (§3.1)")
    frac_very_dense_paired: float = metric("fraction of very dense latents with s_i > pair_threshold (§3.3)")
    n_high_s_with_positive_partner_cos: float = metric(
        "high-s latents whose max-|cos| encoder or decoder partner has a positive cosine (App B, Fig 5c)")
    spearman_rho_s: float = metric("Spearman rho(rho_pc_enc, s_i) over latents (§3.4, Fig 4)")
    p_spearman_rho_s: float = metric("its p-value")
    spearman_rho_s_ci95_low: float = metric("its bootstrap 95% interval, low end")
    spearman_rho_s_ci95_high: float = metric("its bootstrap 95% interval, high end")
    spearman_rho_density: float = metric("Spearman rho(rho_pc_enc, density) over latents (§3.4, Fig 4)")
    p_spearman_rho_density: float = metric("its p-value")
    spearman_rho_density_ci95_low: float = metric("its bootstrap 95% interval, low end")
    spearman_rho_density_ci95_high: float = metric("its bootstrap 95% interval, high end")
    median_encdec_cos_outliers_minus_rest: float = metric(
        "median enc-dec cosine of dense outliers minus the rest's (App B, Fig 5a; 0 if either set is empty)")
    wu_sv_min_over_median: PerReading = metric("smallest singular value of W_U over the median (a dark subspace?)")
    wu_sv_min_over_next: PerReading = metric("smallest singular value of W_U over the next one")
    spearman_rho_pc_vs_rho_wu: PerReading = metric("Spearman rho(rho_pc_dec, rho_wu_dec) over latents (§3.2, Fig 1b)")
    top_outliers_in_both: PerReading = metric(
        "fraction of the top_outliers highest-rho_pc_dec latents that also rank high on rho_wu_dec")
    n_both_outliers: PerReading = metric("latents with high composition in both subspaces (§3.2, Fig 1c)")
    frac_both_outliers_antipodal: PerReading = metric(
        "fraction of those whose s-partner is antipodal (both cosines <= -antipodal_cosine)")
    u1_pair_s: PerReading = metric("s_i of the pair (the dense latent nearest U_{-1} and its s-partner)")
    u1_pair_max_cosine: PerReading = metric("the larger of the pair's encoder and decoder cosines")
    u1_pair_min_density: PerReading = metric("the smaller of the pair's densities")
    u1_pair_coactivation_rate: PerReading = metric("fraction of tokens where either fires on which both fire")
    abs_corr_u1_pair_diff: PerReading = metric("|Pearson r(f_i - f_j, x . U_{-1})| over counted tokens (Fig 2a)")
    u1_pair_u1_projection_product: PerReading = metric("cos(W_dec[i], U_{-1}) * cos(W_dec[j], U_{-1}) (App B)")
    u1_pair_min_wu_rank: PerReading = metric("the smaller rank fraction of the pair's rho_wu_dec")
    u1_pair_abs_cos_u1: PerReading = metric("|cos(W_dec[i], U_{-1})| of the pair's dense latent")
    abs_corr_u1_entropy: PerReading = metric("|Pearson r(x . U_{-1}, output entropy)| (§3.2, Fig 2c)")
    p_corr_u1_entropy: PerReading = metric("its p-value")


@dataclass(frozen=True)
class AntipodalLayerMetrics(AntipodalMetrics):
    """:class:`AntipodalMetrics` and the depth trend, from a stream with every layer (the LM tiers)."""

    final_minus_max_earlier_u1_fraction: PerReading = metric(
        "the final layer's mean |x . U_{-1}| / ||x|| minus the largest earlier layer's (§3.2, Fig 2b)")
    spearman_layer_u1_fraction: PerReading = metric("Spearman rho(layer, that fraction)")


# --------------------------------------------------------------------------------------- figures

#: at most this many counted tokens of the per-token arrays go into the report's saved arrays
FIGURE_TOKENS = 20_000


#: the reading the figures draw (the claims' primary reading, ``claims.antipodal.WU_READINGS``)
FIGURE_READING = "processed"


def figure_arrays(a: AntipodalArrays, max_tokens: int = FIGURE_TOKENS) -> dict[str, Any]:
    """The arrays the report's figures read (:mod:`replication.papers.antipodal.figures`), kept small.

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


def measured(inputs: AntipodalInputs) -> Measured:
    """:func:`measure` of ``inputs``: the claims' metrics (:func:`summarise`) and the figures' arrays
    (:func:`figure_arrays`), what a tier's ``Analysis.measure`` returns."""
    a = measure(inputs)
    return Measured(summarise(a), figure_arrays(a))
