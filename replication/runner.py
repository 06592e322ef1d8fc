"""Run claims: measure each (analysis, target, seed) once, judge, record.

The same :class:`Runner` serves pytest (one session-wide instance), the command line and the DVC stages.
The runner holds every measurement in-process, keyed by the analysis' ``measure`` function, target and seed, so
every claim (and every analysis sharing that function) reads one measurement; expensive artefacts (trained
SAEs) are cached on disk by :mod:`replication.cache`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from replication.claims import REGISTRY, Claim, Tier
from replication.results import (
    arrays_path,
    make_record,
    provenance_entry,
    record_path,
    remove_stale_records,
    write_arrays,
    write_provenance,
    write_records,
)
from replication.papers import registry
from replication.targets import Analysis, Measured, Target
from replication.verdict import Measurement, NotRunReason, Verdict, aggregate, judge, not_run


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def unavailable_reason(target: Target) -> tuple[NotRunReason, str] | None:
    """Why ``target`` cannot run on this machine, or ``None`` if it can."""
    missing = target.availability()
    if target.needs_gpu and not _cuda_available():
        detail = (f"target {target.name} needs a CUDA GPU and torch sees none; run "
                  f"`pytest -m gpu --target {target.name}` on a GPU machine")
        return NotRunReason.NEEDS_GPU, detail + (f"; it also needs: {missing}" if missing else "")
    if missing:
        return NotRunReason.NEEDS_WEIGHTS, missing
    return None


@dataclass
class Runner:
    """Measures and judges claims; writes one record per (claim, tier, target, seed) if ``results_dir``."""

    results_dir: Path | None = None
    written: set[Path] = field(default_factory=set)
    """Every record this runner has written."""
    _measured: dict[tuple[Any, str, int | None], tuple[Measured, float]] = field(default_factory=dict)
    _arrays_saved: set[tuple[str, str, int | None]] = field(default_factory=set)

    def _measured_once(self, analysis: Analysis, target: Target, seed: int | None) -> tuple[Measured, float]:
        key = (analysis.measure, target.name, seed)
        if key not in self._measured:
            start = time.perf_counter()
            measured = analysis.measure(target, seed)
            if not isinstance(measured, Measured):
                raise TypeError(f"analysis {analysis.name} returned {type(measured).__name__}, not Measured")
            bad = [k for k, v in measured.values.items() if not isinstance(v, (int, float)) or isinstance(v, bool)]
            if bad:
                raise TypeError(f"analysis {analysis.name} on {target.name} seed {seed}: values {bad[:5]} are not "
                                f"numbers")
            self._measured[key] = (measured, time.perf_counter() - start)
        return self._measured[key]

    def measure(self, analysis: Analysis, target: Target, seed: int | None) -> Measurement:
        measured, seconds = self._measured_once(analysis, target, seed)
        missing = analysis.provides - set(measured.values)
        if missing:
            raise RuntimeError(f"analysis {analysis.name} on {target.name} seed {seed} did not produce "
                               f"{sorted(missing)}")
        values = {k: float(v) for k, v in measured.values.items()}
        return Measurement(analysis.tier, target.name, seed, values, seconds)

    def verdict(self, claim: Claim, tier: Tier, target: Target | None, analysis: Analysis | None) -> Verdict:
        """Judge ``claim`` on one target over all its seeds (or say why it did not run)."""
        if claim.requires is not None:
            reason = NotRunReason.NEEDS_LLM_JUDGE if "LLM" in claim.requires.value else NotRunReason.NEEDS_DATA
            return not_run(claim, reason, claim.requires.value, tier=tier)
        if analysis is None or target is None:
            return not_run(claim, NotRunReason.NOT_IMPLEMENTED,
                           f"no analysis on the {tier.value} tier provides {', '.join(claim.metrics)} yet",
                           tier=tier)
        blocked = unavailable_reason(target)
        if blocked is not None:
            return not_run(claim, blocked[0], blocked[1], tier=tier, target=target.name)
        judged = []
        for seed in target.seeds:
            measurement = self.measure(analysis, target, seed)
            judged += [(measurement, judge(claim, measurement, reading)) for reading in claim.reading_names]
        # records are written only once every seed has been measured and judged, and then as a set: a failure
        # on a later seed, or in writing one record, leaves no partial set of records behind
        if self.results_dir is not None:
            records = [(make_record(claim, measurement, verdict), measurement) for measurement, verdict in judged]
            written = write_records(self.results_dir, [r for r, _ in records])
            self.written |= written
            remove_stale_records(self.results_dir, tier.value, target.name, claim.id, written)
            # what varies from run to run goes beside the tier's records, where DVC does not hash it
            write_provenance(self.results_dir, {
                record_path(self.results_dir, r.tier, r.target, r.claim_id, r.seed, r.reading): provenance_entry(m)
                for r, m in records})
            for seed in target.seeds:
                self._save_arrays(analysis, target, seed)
        # one verdict per reading; the claim's verdict is the primary reading's (the first), the others ride along
        per_reading = [aggregate([v for _, v in judged if v.reading == reading]) for reading in claim.reading_names]
        return replace(per_reading[0], alternatives=tuple(per_reading[1:]))

    def _save_arrays(self, analysis: Analysis, target: Target, seed: int | None) -> None:
        key = (analysis.name, target.name, seed)
        if key in self._arrays_saved or self.results_dir is None:
            return
        arrays = self._measured_once(analysis, target, seed)[0].arrays
        if arrays is not None:
            write_arrays(arrays_path(self.results_dir, target.tier.value, target.name, analysis.name, seed), arrays)
        self._arrays_saved.add(key)

    def run(self, claims: list[Claim] | None = None, tier: Tier | None = None,
            target_name: str | None = None) -> list[Verdict]:
        """Judge every binding of ``claims`` (default: all), optionally restricted to a tier or a target."""
        verdicts = []
        for claim in claims if claims is not None else list(REGISTRY):
            for t, target, analysis in registry().bindings(claim):
                if tier is not None and t is not tier:
                    continue
                if target_name is not None and (target is None or target.name != target_name):
                    continue
                verdicts.append(self.verdict(claim, t, target, analysis))
        return verdicts
