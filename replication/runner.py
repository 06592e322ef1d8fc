"""Run claims: measure each (analysis, target, seed) once, judge, record.

The same :class:`Runner` serves pytest (one session-wide instance), the command line and the DVC stages.
The runner holds every measurement in-process, keyed by the analysis' ``measure`` function, target and seed, so
every claim (and every analysis sharing that function) reads one measurement; expensive artefacts (trained
SAEs) are cached on disk by :mod:`replication.cache`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
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

Unit = tuple[Analysis, Target, "int | None"]
"""One measurement: an analysis on one target and seed (what a worker process runs)."""


def _cuda_available() -> bool:
    """Whether GPU targets run: a CUDA device torch sees, unless ``SAE_REPLICATION_DEVICE=cpu`` keeps the run on
    the CPU (:func:`replication.device.best_device`)."""
    from replication.device import best_device

    return best_device() == "cuda"


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


def default_jobs() -> int:
    """Worker processes by default: the cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _timed_measure(analysis: Analysis, target: Target, seed: int | None) -> tuple[Measured, float]:
    start = time.perf_counter()
    measured = analysis.measure(target, seed)
    if not isinstance(measured, Measured):
        raise TypeError(f"analysis {analysis.name} returned {type(measured).__name__}, not Measured")
    bad = [k for k, v in measured.values.items() if not isinstance(v, (int, float)) or isinstance(v, bool)]
    if bad:
        raise TypeError(f"analysis {analysis.name} on {target.name} seed {seed}: values {bad[:5]} are not numbers")
    return measured, time.perf_counter() - start


def _worker_init(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _measure_in_worker(analysis_name: str, target_name: str, seed: int | None) -> tuple[Measured, float]:
    """A worker process measures by name: the registry is rebuilt there, and only the result comes back."""
    reg = registry()
    return _timed_measure(reg.analyses[analysis_name], reg.targets[target_name], seed)


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
            self._measured[key] = _timed_measure(analysis, target, seed)
        return self._measured[key]

    def units(self, bindings: Iterable[tuple[Claim, Target | None, Analysis | None]]) -> list[Unit]:
        """The measurements that judging ``(claim, target, analysis)`` bindings needs, each once and in order,
        less those already made and those that cannot run here."""
        seen, units = set(self._measured), []
        for claim, target, analysis in bindings:
            if claim.requires is not None or target is None or analysis is None or unavailable_reason(target):
                continue
            for seed in target.seeds:
                key = (analysis.measure, target.name, seed)
                if key not in seen:
                    seen.add(key)
                    units.append((analysis, target, seed))
        return units

    def measure_all(self, units: list[Unit], jobs: int = 1, threads: int = 1,
                    done: Callable[[Unit], None] | None = None) -> None:
        """Make every measurement of ``units``, on ``jobs`` worker processes of ``threads`` torch threads each
        (``jobs=1``: in this process). Each unit seeds its own randomness and trained SAEs are cached on disk
        atomically, so the values do not depend on ``jobs`` or on the order; ``done(unit)`` is called as each
        finishes."""
        todo = [u for u in units if (u[0].measure, u[1].name, u[2]) not in self._measured]
        if jobs <= 1 or len(todo) <= 1:
            for unit in todo:
                self._measured_once(*unit)
                if done is not None:
                    done(unit)
            return
        import multiprocessing

        # spawn, not fork: a forked child of a process that has used torch's thread pool can deadlock
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context, initializer=_worker_init,
                                 initargs=(threads,)) as pool:
            futures = {pool.submit(_measure_in_worker, a.name, t.name, seed): (a, t, seed) for a, t, seed in todo}
            try:
                for future in as_completed(futures):
                    analysis, target, seed = unit = futures[future]
                    self._measured[(analysis.measure, target.name, seed)] = future.result()
                    if done is not None:
                        done(unit)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

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
