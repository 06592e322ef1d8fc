"""Check any SAE: the papers' SAE-level claims, measured on a model and an SAE the user names.

:func:`check` (and ``sae-replicate check``) runs every claim whose analysis needs only a model, an SAE and a
token stream: the antipodal claims of the real tier (every reading of W_U) and the bimodality distribution
claims. They are judged with the real tier's conditions and recorded under a target named after the model and
the SAE (``user-...``, tier ``real``), with the arrays the papers' figures draw; the report shows them in a
section of their own. Claims this SAE cannot answer come back as not run, with why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from replication.checks import InvalidWeightsError, check_finite_weights
from replication.claims import Claim, Tier
from replication.lm.hooks import activation_stream
from replication.lm.load import SAESource, best_device, final_norm, load_hooked_transformer, model_availability, \
    unembedding
from replication.lm.text import TextSource, text_windows
from replication.targets import Analysis, Measured, Target
from replication.verdict import NotRunReason, Verdict, not_run

USER_PREFIX = "user-"
"""Targets of user checks are named ``user-<model>-<sae>``: the report gives them a section of their own."""
BIMODALITY_CLAIMS = ("bimodality.scores_bimodal", "bimodality.good_cluster_at_one", "bimodality.dead_cluster_at_zero")
"""The bimodality claims a single SAE answers (Fig 1, §4, §5.4); the others compare sweeps the suite trains."""
TOPK_ONLY = {"antipodal.cross_model_trend": "§3.4 makes the trend claim for TopK SAEs only"}
PAPERS = ("antipodal", "bimodality")


class CheckError(ValueError):
    """Input :func:`check` cannot measure: one line naming the problem and the fix."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "x"


def target_name(model: str, sae: str) -> str:
    """``user-<model>-<sae>`` from the names the user gave (paths: their last component)."""
    def short(name: str) -> str:
        return Path(name).name if Path(name).exists() else name

    return f"{USER_PREFIX}{_slug(short(model))}-{_slug(short(sae))}"


def sae_source(sae: str) -> SAESource:
    """A local ``save_model`` folder, or a sae-lens ``RELEASE/SAE_ID`` (the SAE id may hold slashes)."""
    if Path(sae).exists():
        return SAESource(path=str(sae))
    if "/" not in sae:
        raise CheckError(f"--sae {sae!r} is neither a folder nor RELEASE/SAE_ID (e.g. "
                         "gemma-scope-2b-pt-res-canonical/layer_25/width_16k/canonical)")
    release, sae_id = sae.split("/", 1)
    return SAESource(release, sae_id)


def load_inputs(model: Any, sae: Any, *, device: str = "auto", dtype: str = "float32") -> tuple[Any, Any]:
    """``(HookedTransformer, SAE)``: each given object as it is, each name loaded; what is missing is said (with
    the download command) before any loading."""
    dev = best_device() if device == "auto" else device
    if not isinstance(getattr(torch, dtype, None), torch.dtype):
        raise CheckError(f"--dtype {dtype!r} is not a torch dtype (float32, bfloat16, float16)")
    source = sae_source(sae) if isinstance(sae, str) else None
    missing = [m for m in (model_availability(model) if isinstance(model, str) and not Path(model).is_dir() else None,
                           source.availability() if source is not None else None) if m]
    if missing:
        raise CheckError("; ".join(missing))
    if isinstance(model, str):
        model = load_hooked_transformer(model, dtype=getattr(torch, dtype), device=dev)
    if source is not None:
        try:
            sae = source.load(device=dev)
        except InvalidWeightsError as err:
            raise CheckError(str(err)) from None
    return model, sae


def hook_of(sae: Any, hook: str | None) -> str:
    """The hook to read: ``hook`` if given, else the SAE's own (sae-lens ``metadata.hook_name``)."""
    if hook:
        return hook
    meta = getattr(sae.cfg, "metadata", None)
    found = getattr(meta, "hook_name", None) if meta is not None else None
    if not found:
        raise CheckError("the SAE's config names no hook (metadata.hook_name): pass --hook, e.g. "
                         "blocks.8.hook_resid_post")
    return str(found)


def validate(model: Any, sae: Any, hook: str, name: str) -> None:
    """One-line errors, before any measuring: an unknown hook, an SAE whose d_in is not the hook's width, an
    SAE with non-finite weights or zero-norm decoder rows."""
    if hook not in model.hook_dict:
        near = sorted(h for h in model.hook_dict if h.startswith("blocks.0."))[:6]
        raise CheckError(f"the model has no hook {hook!r}; it has e.g. {near}")
    if not hook.endswith(("hook_resid_pre", "hook_resid_mid", "hook_resid_post")):
        raise CheckError(f"hook {hook!r} is not a residual stream: the antipodal analysis compares the SAE's "
                         "input with the residual stream's PCs and W_U (use a blocks.L.hook_resid_* hook)")
    d_model, d_in = int(model.cfg.d_model), int(sae.cfg.d_in)
    if d_in != d_model:
        raise CheckError(f"the SAE reads d_in = {d_in} but {hook} has width d_model = {d_model}: this SAE was "
                         "trained on another model or hook")
    if int(model.cfg.d_vocab) < d_model:
        raise CheckError(f"the model's vocabulary ({model.cfg.d_vocab}) is smaller than d_model ({d_model}): the "
                         "bottom singular vectors of W_U the antipodal claims read are not defined")
    try:
        check_finite_weights(sae)
    except InvalidWeightsError as err:
        raise CheckError(f"SAE {name}: {err}") from None


def token_stream(model: Any, *, text: TextSource, n_tokens: int, ctx_len: int | None = None,
                 batch_size: int = 8) -> Callable[[], Iterator[Tensor]]:
    """BOS-prefixed windows of ``text`` for ``model`` (a new pass each call), on the model's device."""
    tok = getattr(model, "tokenizer", None)
    if tok is None:
        raise CheckError("the model has no tokenizer; pass token batches to check(tokens=...) instead")
    missing = text.availability()
    if missing:
        raise CheckError(missing)
    ctx = ctx_len or min(int(model.cfg.n_ctx), 1024)
    device = next(model.parameters()).device

    def stream() -> Iterator[Tensor]:
        for batch in text_windows(tok, text.texts(), n_tokens=n_tokens, ctx_len=ctx, batch_size=batch_size,
                                  bos_token_id=tok.bos_token_id):
            yield batch.to(device)

    return stream


def _progress(tokens: Callable[[], Iterable[Tensor]], n_tokens: int | None, desc: str,
              quiet: bool) -> Callable[[], Iterator[Tensor]]:
    from tqdm.auto import tqdm

    def stream() -> Iterator[Tensor]:
        with tqdm(total=n_tokens, desc=desc, unit="tok", unit_scale=True, disable=quiet, leave=False) as bar:
            for batch in tokens():
                bar.update(batch.numel())
                yield batch

    return stream


def claims_for(papers: Iterable[str]) -> list[Claim]:
    """The claims a model and one SAE answer: the antipodal claims of the real tier, the bimodality ones above."""
    from replication.claims import load_all

    registry = load_all()
    out = []
    for paper in papers:
        if paper not in PAPERS:
            raise CheckError(f"unknown --paper {paper!r}: the check measures {', '.join(PAPERS)}")
        if paper == "antipodal":
            out += [c for c in registry.by_paper("antipodal") if Tier.REAL in c.tiers]
        else:
            out += [registry.get(i) for i in BIMODALITY_CLAIMS]
    return out


def check(model: Any, sae: Any, *, hook: str | None = None, tokens: Callable[[], Iterable[Tensor]] | None = None,
          text: TextSource | None = None, n_tokens: int = 250_000, papers: Iterable[str] = PAPERS,
          results_dir: Path | str | None = None, name: str | None = None, device: str = "auto",
          dtype: str = "float32", quiet: bool = False) -> list[Verdict]:
    """Judge the papers' SAE-level claims on ``model`` and ``sae``.

    ``model``: a transformer-lens ``HookedTransformer`` or a name / ``save_pretrained`` folder; ``sae``: a
    sae-lens ``SAE`` or a ``RELEASE/SAE_ID`` / ``save_model`` folder. ``tokens``: a function giving a fresh
    iterable of ``(batch, pos)`` token batches (default: ``n_tokens`` of ``text``, BOS first, C4 or a local
    folder). Records (and the figures' arrays) go to ``results_dir`` if given. Returns one verdict per claim
    (every reading inside it), not run where this SAE cannot answer.
    """
    from replication.papers.antipodal.analysis import AntipodalLayerMetrics, AntipodalMetrics, AntipodalSettings, \
        FinalNorm, StreamInputs, measured
    from replication.papers.bimodality.analysis import DistributionMetrics, alignment_metrics, histogram_arrays, \
        stream_alignment_arrays
    from replication.runner import Runner

    if name is None:
        name = target_name(model if isinstance(model, str) else model.cfg.model_name,
                           sae if isinstance(sae, str) else type(sae).__name__)
    model, sae = load_inputs(model, sae, device=device, dtype=dtype)
    hook = hook_of(sae, hook)
    validate(model, sae, hook, name)
    claims = claims_for(papers)
    stream = tokens or token_stream(model, text=text or TextSource(), n_tokens=n_tokens)
    counted = None if tokens else n_tokens
    sae = sae.to(next(model.parameters()).device)
    arch = str(sae.cfg.architecture())
    layered = int(model.cfg.n_layers) >= 3  # the depth trend of Fig 2b needs three layers
    excluded = [(cid, f"{why}; this SAE is {arch}") for cid, why in TOPK_ONLY.items() if arch != "topk"]
    if not layered:
        excluded.append(("antipodal.u1_norm_rises_with_depth", f"the trend over layers needs >= 3 layers; the model "
                                                               f"has {model.cfg.n_layers}"))
    target = Target(name, Tier.REAL, f"user check: {hook}, {arch} SAE (d_sae {sae.cfg.d_sae})", seeds=(None,),
                    excluded=tuple(excluded))

    def antipodal(t: Target, seed: int | None) -> Measured:
        d_model = int(model.cfg.d_model)
        inputs = StreamInputs(
            sae=sae, W_U=unembedding(model, fold_final_norm=False).float(), final_norm=FinalNorm(*final_norm(model)),
            settings=AntipodalSettings() if d_model > 300 else AntipodalSettings.scaled(d_model),
            stream=lambda: activation_stream(model, hook, _progress(stream, counted, "antipodal pass", quiet)(),
                                             with_layers=layered))
        return measured(inputs)

    def alignment(t: Target, seed: int | None) -> Measured:
        batches = activation_stream(model, hook, _progress(stream, counted, "bimodality pass", quiet)())
        arr = stream_alignment_arrays(sae, batches, name)
        return Measured(alignment_metrics(arr), histogram_arrays(arr, "reference_"))

    analyses = {"antipodal": Analysis("antipodal-user", Tier.REAL, (target,),
                                      AntipodalLayerMetrics if layered else AntipodalMetrics, antipodal),
                "bimodality": Analysis("bimodality-user", Tier.REAL, (target,), DistributionMetrics, alignment)}
    runner = Runner(results_dir=None if results_dir is None else Path(results_dir))
    verdicts = []
    for claim in claims:
        if not target.makes(claim.id):
            why = dict(target.excluded)[claim.id]
            verdicts.append(not_run(claim, NotRunReason.NOT_IMPLEMENTED, why, tier=Tier.REAL, target=name))
            continue
        verdicts.append(runner.verdict(claim, Tier.REAL, target, analyses[claim.paper]))
    return verdicts


@dataclass(frozen=True)
class NotAnswered:
    """A claim of the papers that a single SAE cannot answer, and why (listed by the command line)."""

    claim_id: str
    why: str


def not_answered(papers: Iterable[str]) -> list[NotAnswered]:
    """The papers' other claims, with why a single SAE cannot answer them."""
    from replication.claims import load_all

    answered = {c.id for c in claims_for(papers)}
    out = []
    for claim in load_all():
        if claim.paper in papers and claim.id not in answered:
            if claim.requires is not None:
                why = claim.requires.value
            elif Tier.REAL not in claim.tiers:
                why = "measured on planted toy data or the suite's tiny LM only"
            else:
                why = "compares SAEs the suite trains itself (sweeps, ablations)"
            out.append(NotAnswered(claim.id, why))
    return out
