"""What DVC shows of a run: ``dvc metrics show`` / ``dvc exp show`` and ``dvc plots show``.

``dvc metrics show`` prints every metrics file as one row of a single table whose columns are the union of
the files' keys, so every file written here has the same few keys (:data:`COLUMNS`): per tier a
``summary.json`` and one ``<claim id>.json`` per claim, counting the claim's (claim, target) verdicts on the
tier (negative controls apart) and giving its primary value. The full per-target, per-metric values stay in
the results store and the report. Sweeps (``<family>_<label>_l0`` beside ``<family>_<label>_<y>``, mean over
seeds) become one CSV per (target, family) for ``dvc plots show`` / ``dvc plots diff``.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from replication.claims import Claim, Tier
from replication.io import write_json_atomic, write_text_atomic
from replication.verdict import Status, Verdict

COUNTS = {Status.REPLICATED: "replicated", Status.NOT_REPLICATED: "not_replicated",
          Status.INCONCLUSIVE: "inconclusive", Status.NOT_RUN: "not_run"}
"""Verdict counts over a claim's positive (not negative-control) targets on one tier."""
CONTROLS = "controls_unexpected"
"""Negative controls whose verdict is not the one their expectation states."""
VALUE = "value"
"""The claim's primary value: its first condition's metric on the tier, mean over seeds, under the primary
reading, on the first positive target (in registration order) that measured it."""
COLUMNS = (*COUNTS.values(), CONTROLS, VALUE)

SWEEP_Y = ("r2", "explained_variance", "dead_fraction", "ce_loss_recovered")
"""The sweep values plotted against L0, where a sweep measured them."""


def _empty() -> dict[str, float]:
    return {key: 0 for key in (*COUNTS.values(), CONTROLS)}


def claim_metrics(claim: Claim, tier: Tier, outcomes: Sequence[tuple[bool, Status | None, Verdict]]) -> dict:
    """One claim's row on one tier. ``outcomes``: per binding, (is a negative control, the expected status
    of that control or ``None``, the aggregated verdict), in the order the targets were registered."""
    row: dict[str, float] = _empty()
    conditions = claim.conditions_on(tier)
    for control, expected, verdict in outcomes:
        if control:
            row[CONTROLS] += int(expected is not None and verdict.status is not expected)
            continue
        row[COUNTS[verdict.status]] += 1
        values = verdict.values.get(conditions[0].metric) if conditions else None
        if VALUE not in row and values:
            mean = statistics.fmean(values)
            if math.isfinite(mean):
                row[VALUE] = mean
    return row


def tier_files(rows: Mapping[str, dict]) -> dict[str, dict]:
    """File name -> content for one tier: ``summary.json`` (the sum of the claims' counts) and one file per
    claim (``rows``: claim id -> :func:`claim_metrics`)."""
    summary = _empty()
    for row in rows.values():
        for key in summary:
            summary[key] += row[key]
    return {"summary.json": summary, **{f"{cid}.json": row for cid, row in sorted(rows.items())}}


def write_files(out_dir: Path, files: Mapping[str, object], suffix: str) -> list[Path]:
    """Write ``files`` (relative path -> JSON object, or CSV text for ``.csv``) under ``out_dir``
    atomically and remove the ``*{suffix}`` files there that ``files`` no longer names."""
    out_dir = Path(out_dir)
    written = []
    for rel, content in files.items():
        path = out_dir / rel
        if isinstance(content, str):
            write_text_atomic(path, content)
        else:
            write_json_atomic(path, content)
        written.append(path)
    keep = set(written)
    for stale in out_dir.rglob(f"*{suffix}") if out_dir.is_dir() else ():
        if stale not in keep:
            stale.unlink()
    return written


def sweep_curves(frame) -> dict[str, list[dict]]:
    """``<target>/<family>.csv`` -> rows (``label``, ``l0``, the :data:`SWEEP_Y` it has, ``seeds``), mean
    over seeds, sorted by L0, for every sweep of at least two points in ``frame`` (one row per (tier,
    target, seed), one column per measured scalar: :func:`replication.figures.measured_frame`)."""
    points: dict[tuple[str, str], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for _, row in frame.iterrows():
        for column in frame.columns:
            if not isinstance(column, str) or not column.endswith("_l0") or column.count("_") < 2:
                continue
            stem = column[:-len("_l0")]
            family, label = stem.rsplit("_", 1)
            values = {y: row.get(f"{stem}_{y}") for y in ("l0", *SWEEP_Y)}
            values = {y: float(v) for y, v in values.items() if _finite(v)}
            if "l0" in values and len(values) > 1:
                points[(row["target"], family)][label].append(values)
    curves: dict[str, list[dict]] = {}
    for (target, family), by_label in sorted(points.items()):
        if len(by_label) < 2:
            continue
        ys = [y for y in ("l0", *SWEEP_Y) if all(y in v for vs in by_label.values() for v in vs)]
        rows = [{"label": label, **{y: statistics.fmean(v[y] for v in vs) for y in ys}, "seeds": len(vs)}
                for label, vs in by_label.items()]
        curves[f"{target}/{family}.csv"] = sorted(rows, key=lambda r: r["l0"])
    return curves


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def to_csv(rows: Iterable[dict]) -> str:
    rows = list(rows)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def write_metrics(out_dir: Path, runs: Iterable[tuple[Claim, Tier, object, Verdict]],
                  expectations: Mapping[tuple[str, str], object]) -> list[Path]:
    """Write ``<out_dir>/<tier>/summary.json`` and ``<out_dir>/<tier>/<claim id>.json`` for every tier in
    ``runs`` ((claim, tier, target or ``None``, aggregated verdict), in binding order)."""
    grouped: dict[Tier, dict[str, tuple[Claim, list]]] = defaultdict(dict)
    for claim, tier, target, verdict in runs:
        control = bool(target is not None and target.control)
        expectation = expectations.get((claim.id, target.name)) if target is not None else None
        grouped[tier].setdefault(claim.id, (claim, []))[1].append(
            (control, expectation.status if expectation is not None else None, verdict))
    written = []
    for tier, claims in grouped.items():
        rows = {cid: claim_metrics(claim, tier, outcomes) for cid, (claim, outcomes) in claims.items()}
        written += write_files(Path(out_dir) / tier.value, tier_files(rows), ".json")
    return written


def write_sweep_plots(out_dir: Path, results_dir: Path, tiers: Iterable[Tier]) -> list[Path]:
    """Write ``<out_dir>/<tier>/<target>/<family>.csv`` (:func:`sweep_curves`) from the records of each tier
    in the results store."""
    from replication.figures import measured_frame
    from replication.results import iter_records

    written = []
    for tier in tiers:
        records = [r for r in iter_records(Path(results_dir)) if r.tier == tier.value]
        curves = sweep_curves(measured_frame(records)) if records else {}
        (Path(out_dir) / tier.value).mkdir(parents=True, exist_ok=True)  # a DVC output, even if empty
        written += write_files(Path(out_dir) / tier.value, {k: to_csv(v) for k, v in curves.items()}, ".csv")
    return written
