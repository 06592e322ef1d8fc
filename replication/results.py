"""The results store: one JSON record per (claim, tier, target, seed), written atomically.

Layout: ``<root>/<tier>/<target>/<claim_id>/seed-<seed>.json``, or ``seed-<seed>@<reading>.json`` for a claim
measured under several readings of an open choice (one record per reading). :func:`load_results` reads every record
back into a pandas DataFrame with one row per (record, condition). A record holds the measured values, so
:func:`record_to_measurement` and :func:`replication.verdict.judge` re-judge it with the same code that
judged the fresh run.

A record holds only what the measurement determines: the same inputs, code and machine kind write the same
bytes. What varies from run to run (git revision, wall time, when it was written) goes to the tier's
provenance file ``<root>/provenance/<tier>.json`` (:func:`write_provenance`), outside every tier's folder, so
that DVC, which hashes ``<root>/<tier>``, never sees it. Saved arrays (``.npz``) are written with sorted
keys and fixed zip timestamps (:func:`write_arrays`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from replication.claims import Claim, Tier
from replication.io import json_text, write_bytes_atomic, write_texts_atomic
from replication.provenance import device_description, git_revision, library_versions
from replication.verdict import Measurement, Verdict

SCHEMA_VERSION = 3
"""3: ``git_revision``, ``wall_time_s`` and ``timestamp`` moved to the provenance file."""
PROVENANCE_SCHEMA = 1

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "schema": int,
    "claim_id": str,
    "tier": str,
    "target": str,
    "seed": (int, type(None)),
    "reading": (str, type(None)),
    "conditions": list,
    "preconditions": list,
    "reported": dict,
    "measured": dict,
    "verdict": str,
    "reason": str,
    "versions": dict,
    "device": str,
}
_CONDITION_KEYS = {"metric": str, "value": (int, float), "comparator": str, "threshold": (int, float)}


class MalformedRecordError(ValueError):
    """A results record that cannot be read; the message names the file and the field."""


class ResultsDirError(ValueError):
    """A results folder that is missing, a file, or not writable; the message names it and the fix."""


def check_results_dir(root: Path, *, write: bool) -> None:
    """Raise :class:`ResultsDirError` unless ``root`` is a results folder to read (it exists and is a
    folder) or, with ``write``, one records can be written under (made if absent). Nothing is created."""
    from replication.io import writable_dir_problem

    root = Path(root)
    if write:
        problem = writable_dir_problem(root)
        if problem:
            raise ResultsDirError(f"results folder: {problem}; pass --results-dir a writable folder")
    elif not root.exists():
        raise ResultsDirError(f"results folder {root} does not exist; run `sae-replicate run` first, or pass "
                              "--results-dir the folder that holds the records")
    elif not root.is_dir():
        raise ResultsDirError(f"results folder {root} is a file, not a folder; pass --results-dir the folder "
                              "that holds the records")


@dataclass(frozen=True)
class ResultRecord:
    schema: int
    claim_id: str
    tier: str
    target: str
    seed: int | None
    reading: str | None
    """The reading of the claim's open choice judged here (``None``: the claim has none)."""
    conditions: list[dict[str, Any]]
    preconditions: list[dict[str, Any]]
    """Same shape as ``conditions``; a failed one makes the verdict ``inconclusive``."""
    reported: dict[str, float]
    """The claim's reported (never judged) metrics under this reading."""
    measured: dict[str, float]
    """Every finite scalar the analysis produced on this (target, seed), for the report's figures."""
    verdict: str
    reason: str
    versions: dict[str, str]
    device: str


def make_record(claim: Claim, measurement: Measurement, verdict: Verdict) -> ResultRecord:
    """The record of one per-seed verdict (under its reading), with the versions and device that measured it
    (the run-varying provenance is :func:`provenance_entry`'s)."""
    values = {**verdict.values, **verdict.preconditions}

    def rows(conds: tuple) -> list[dict[str, Any]]:
        return [{"metric": c.metric, "value": float(values[c.metric][0]), "comparator": c.op.value,
                 "threshold": c.threshold} for c in conds]

    return ResultRecord(
        schema=SCHEMA_VERSION,
        claim_id=claim.id,
        tier=measurement.tier.value,
        target=measurement.target,
        seed=measurement.seed,
        reading=verdict.reading,
        conditions=rows(claim.conditions_on(measurement.tier)),
        preconditions=rows(claim.preconditions_on(measurement.tier)),
        reported={m: float(v[0]) for m, v in verdict.reported.items()},
        measured={k: float(v) for k, v in measurement.values.items() if math.isfinite(float(v))},
        verdict=verdict.status.value,
        reason=verdict.reason,
        versions=library_versions(),
        device=device_description(),
    )


def provenance_entry(measurement: Measurement) -> dict[str, Any]:
    """What varies from one run of a record to the next: the git revision, the measurement's wall time
    (shared by every claim of its (target, seed)) and when the record was written."""
    return {"git_revision": git_revision(), "wall_time_s": float(measurement.wall_time_s),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def provenance_path(root: Path, tier: str) -> Path:
    return Path(root) / "provenance" / f"{tier}.json"


def _provenance_records(path: Path) -> dict[str, dict[str, Any]]:
    """The ``records`` of one provenance file; an absent, unreadable or older one holds none (pure read)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict) or data.get("schema") != PROVENANCE_SCHEMA:
        return {}
    if not isinstance(data.get("records"), dict):
        return {}
    return {k: v for k, v in data["records"].items() if isinstance(v, dict)}


def write_provenance(root: Path, entries: Mapping[Path, Mapping[str, Any]]) -> None:
    """Merge ``{record path: provenance_entry}`` into each tier's provenance file, atomically; entries of
    records no longer in the store (another seed set, a deleted claim) are dropped."""
    root = Path(root)
    by_tier: dict[str, dict[str, Any]] = {}
    for path, entry in entries.items():
        rel = Path(path).relative_to(root)
        by_tier.setdefault(rel.parts[0], {})[Path(*rel.parts[1:]).as_posix()] = dict(entry)
    files = {}
    for tier, new in by_tier.items():
        path = provenance_path(root, tier)
        kept = {k: v for k, v in _provenance_records(path).items() if (root / tier / k).is_file()}
        files[path] = json_text({"schema": PROVENANCE_SCHEMA, "tier": tier, "records": {**kept, **new}})
    write_texts_atomic(files)


def read_provenance(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(tier, record path under the tier): entry}`` of every provenance file under ``root``."""
    out = {}
    for path in sorted((Path(root) / "provenance").glob("*.json")):
        out.update({(path.stem, rel): entry for rel, entry in _provenance_records(path).items()})
    return out


def record_path(root: Path, tier: str, target: str, claim_id: str, seed: int | None,
                reading: str | None = None) -> Path:
    name = f"seed-{'none' if seed is None else seed}" + (f"@{reading}" if reading else "")
    return Path(root) / tier / target / claim_id / f"{name}.json"


def remove_stale_records(root: Path, tier: str, target: str, claim_id: str, keep: set[Path]) -> None:
    """Delete the records of one (tier, target, claim) that a new run did not write (another seed set, or a
    reading layout of an earlier version), so that the store holds exactly the latest run's records."""
    for path in (Path(root) / tier / target / claim_id).glob("seed-*.json"):
        if path not in keep:
            path.unlink(missing_ok=True)


def write_record(root: Path, record: ResultRecord) -> Path:
    """Write one record atomically; returns its path."""
    return next(iter(write_records(root, [record])))


def write_records(root: Path, records: list[ResultRecord]) -> set[Path]:
    """Write a set of records (one (claim, target)'s seeds and readings) all or none: every record is
    serialised and written to a temporary file before the first one is moved into place."""
    files = {record_path(root, r.tier, r.target, r.claim_id, r.seed, r.reading): json_text(asdict(r))
             for r in records}
    write_texts_atomic(files)
    return set(files)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value)


def _parse(path: Path) -> Any:
    """The JSON of ``path``; any unreadable file (missing, a folder, not UTF-8, not JSON) is malformed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise MalformedRecordError(f"{path}: not UTF-8 text (byte {err.start}); delete it and re-run the "
                                   "claim (`sae-replicate run`)") from None
    except json.JSONDecodeError as err:
        raise MalformedRecordError(f"{path}: not valid JSON ({err}); delete it and re-run the claim") from None
    except OSError as err:
        raise MalformedRecordError(f"{path}: cannot be read ({err.strerror or err})") from None


def _check_values(path: Path, data: dict[str, Any]) -> None:
    """Every number a record is judged or drawn from is finite; the message names the key."""
    for field_name in ("conditions", "preconditions"):
        for i, cond in enumerate(data[field_name]):
            if not isinstance(cond, dict):
                raise MalformedRecordError(f"{path}: {field_name}[{i}] is not an object")
            for key, typ in _CONDITION_KEYS.items():
                if key not in cond or not isinstance(cond[key], typ) or isinstance(cond[key], bool):
                    raise MalformedRecordError(f"{path}: {field_name}[{i}] lacks a valid {key!r}")
            if not math.isfinite(cond["value"]):
                raise MalformedRecordError(f"{path}: {field_name}[{i}].value ({cond['metric']}) is "
                                           f"{cond['value']}, not a finite number")
    for field_name in ("reported", "measured"):
        for key, value in data[field_name].items():
            if not _is_finite_number(value):
                raise MalformedRecordError(f"{path}: {field_name}[{key!r}] is {value!r}, not a finite number")


def _check_path(path: Path, data: dict[str, Any]) -> None:
    """A record lives at the path its tier, target, claim, seed and reading name (:func:`record_path`)."""
    expected = record_path(Path("."), data["tier"], data["target"], data["claim_id"], data["seed"], data["reading"])
    if path.parts[-4:] != expected.parts[-4:]:
        raise MalformedRecordError(f"{path}: holds {'/'.join(expected.parts[-4:])} (tier, target, claim, "
                                   "seed and reading), which is not its path; delete it and re-run the claim")


def read_record(path: Path) -> ResultRecord:
    """Read and validate one record; raises :class:`MalformedRecordError` naming the file and field."""
    path = Path(path)
    data = _parse(path)
    if not isinstance(data, dict):
        raise MalformedRecordError(f"{path}: a record is a JSON object, got {type(data).__name__}")
    if data.get("schema") != SCHEMA_VERSION:  # first: an older record lacks today's fields
        raise MalformedRecordError(f"{path}: schema {data.get('schema')!r} is not {SCHEMA_VERSION}; re-run the "
                                   "claim (`sae-replicate run`) or delete the stale record")
    for key, typ in _REQUIRED.items():
        if key not in data:
            raise MalformedRecordError(f"{path}: missing field {key!r}")
        if not isinstance(data[key], typ) or isinstance(data[key], bool):
            raise MalformedRecordError(f"{path}: field {key!r} has type {type(data[key]).__name__}")
    unknown = set(data) - set(_REQUIRED)
    if unknown:
        raise MalformedRecordError(f"{path}: unknown fields {sorted(unknown)}")
    try:
        Tier(data["tier"])
    except ValueError:
        raise MalformedRecordError(f"{path}: unknown tier {data['tier']!r}") from None
    _check_values(path, data)
    _check_path(path, data)
    return ResultRecord(**data)


def record_to_measurement(record: ResultRecord) -> Measurement:
    """The measurement a record holds, to re-judge with :func:`replication.verdict.judge` under
    ``record.reading`` (values keyed ``metric@reading`` where the record has a reading)."""
    from replication.claims import metric_key

    values = {metric_key(c["metric"], record.reading): float(c["value"])
              for c in record.conditions + record.preconditions}
    values.update({metric_key(m, record.reading): float(v) for m, v in record.reported.items()})
    return Measurement(
        tier=Tier(record.tier),
        target=record.target,
        seed=record.seed,
        values=values,
    )


def arrays_path(root: Path, tier: str, target: str, analysis: str, seed: int | None) -> Path:
    return Path(root) / tier / target / "_arrays" / f"{analysis}-seed-{'none' if seed is None else seed}.npz"


def write_arrays(path: Path, arrays: Mapping[str, Any]) -> None:
    """Save an analysis' arrays (tensors, arrays, numbers; ``None`` entries skipped) as one ``.npz``,
    atomically and deterministically: members in sorted key order, fixed timestamps and modes, so the same
    arrays give the same bytes (``numpy.load`` reads it as any ``.npz``)."""
    import io
    import zipfile

    import numpy as np
    import torch

    payload = {}
    for key, value in arrays.items():
        if value is None:
            continue
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            value = value.float().numpy() if value.dtype == torch.bfloat16 else value.numpy()
        payload[key] = np.asarray(value)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(payload):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, payload[key], allow_pickle=False)
    write_bytes_atomic(path, buffer.getvalue())


def read_arrays(path: Path) -> dict[str, Any]:
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def iter_records(root: Path) -> list[ResultRecord]:
    """Every record under ``root``; a malformed one, or two records of one (claim, tier, target, seed,
    reading), raise :class:`MalformedRecordError` naming the files."""
    records, seen = [], {}
    for path in sorted(Path(root).glob("*/*/*/seed-*.json")):
        rec = read_record(path)
        key = (rec.claim_id, rec.tier, rec.target, rec.seed, rec.reading)
        if key in seen:
            raise MalformedRecordError(f"{path}: a second record of seed {rec.seed} of {rec.claim_id} on "
                                       f"{rec.tier}/{rec.target} (the first is {seen[key]}); delete one")
        seen[key] = path
        records.append(rec)
    return records


def load_results(root: Path) -> "pandas.DataFrame":  # noqa: F821
    """All records under ``root`` as a DataFrame, one row per (record, condition)."""
    import pandas as pd

    rows: list[Mapping[str, Any]] = []
    for rec in iter_records(root):
        base = {k: v for k, v in asdict(rec).items()
                if k not in ("conditions", "preconditions", "reported", "versions", "measured")}
        base.update({f"version_{k}": v for k, v in rec.versions.items()})
        for kind in ("conditions", "preconditions"):
            for cond in getattr(rec, kind):
                rows.append({**base, "role": kind[:-1], **cond})
        for metric, value in rec.reported.items():
            rows.append({**base, "role": "reported", "metric": metric, "value": value})
    columns = ["claim_id", "tier", "target", "seed", "reading", "role", "metric", "value", "comparator",
               "threshold", "verdict",
               "reason", "device"]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    return frame[columns + [c for c in frame.columns if c not in columns]]
