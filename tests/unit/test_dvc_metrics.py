"""What DVC shows: the metrics files (their keys, counts and width in `dvc metrics show`) and the sweeps."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from replication import dvc_metrics
from replication.claims import Tier, load_all
from replication.cli import main
from replication.verdict import Status, Verdict

REPO = Path(__file__).resolve().parents[2]


def _verdict(status: Status, value: float | None = None) -> Verdict:
    return Verdict("x", status, values={} if value is None else {"m": (value, value + 2.0)})


def test_claim_row_counts_positive_targets_apart_from_controls_and_takes_the_first_value() -> None:
    claim = next(c for c in load_all() if c.id == "topk.less_shrinkage")
    metric = claim.conditions_on(Tier.TOY)[0].metric
    verdict = lambda s, v=None: Verdict(claim.id, s, values={} if v is None else {metric: (v, v + 2.0)})  # noqa: E731
    row = dvc_metrics.claim_metrics(claim, Tier.TOY, [
        (False, None, verdict(Status.REPLICATED, 1.0)),
        (False, None, verdict(Status.NOT_REPLICATED, 5.0)),
        (False, None, verdict(Status.INCONCLUSIVE)),
        (True, Status.NOT_REPLICATED, verdict(Status.NOT_REPLICATED, 9.0)),  # control as expected
        (True, Status.NOT_REPLICATED, verdict(Status.REPLICATED, 9.0)),  # control not as expected
    ])
    assert row == {"replicated": 1, "not_replicated": 1, "inconclusive": 1, "not_run": 0,
                   "controls_unexpected": 1, "value": 2.0}  # mean over seeds, first positive target
    assert set(row) == set(dvc_metrics.COLUMNS)


def test_tier_summary_is_the_sum_of_the_claims_rows() -> None:
    rows = {"a.x": {**dict.fromkeys(dvc_metrics.COLUMNS[:-1], 0), "replicated": 2, "value": 0.5},
            "a.y": {**dict.fromkeys(dvc_metrics.COLUMNS[:-1], 0), "not_run": 1, "controls_unexpected": 1}}
    files = dvc_metrics.tier_files(rows)
    assert list(files) == ["summary.json", "a.x.json", "a.y.json"]
    assert files["summary.json"] == {"replicated": 2, "not_replicated": 0, "inconclusive": 0, "not_run": 1,
                                     "controls_unexpected": 1}


def _every_binding(fake_value: float) -> list:
    """(claim, tier, target, verdict) for every binding of the registry: replicated with a value where a
    target exists (a worst case for the width: every row has a value), not run where none does."""
    from replication.papers import registry

    analyses = registry()
    runs = []
    for claim in load_all():
        for tier, target, _ in analyses.bindings(claim):
            conds = claim.conditions_on(tier)
            if target is None or not conds:
                runs.append((claim, tier, target, Verdict(claim.id, Status.NOT_RUN, tier)))
            else:
                runs.append((claim, tier, target, Verdict(claim.id, Status.REPLICATED, tier, target.name,
                                                          values={conds[0].metric: (fake_value,)})))
    return runs


def _dvc_table(root: Path, files: list[Path]) -> list[str]:
    """The lines `dvc metrics show` prints for ``files`` (DVC's own table: one row per file, the union of
    their keys as columns, rendered as DVC renders it)."""
    from dvc.commands.metrics import DEFAULT_PRECISION
    from dvc.compare import metrics_table
    from tabulate import tabulate

    data = {p.relative_to(root).as_posix(): {"data": json.loads(p.read_text())} for p in files}
    table = metrics_table({"workspace": {"data": data}}, precision=DEFAULT_PRECISION)
    text = tabulate(list(table), table.keys(), tablefmt="plain", disable_numparse=True, missingval="-")
    return text.splitlines()


def test_metrics_files_of_every_tier_fit_a_screen_in_dvc_metrics_show(tmp_path: Path) -> None:
    from replication.papers import registry

    out = tmp_path / "metrics" / "claims"
    written = dvc_metrics.write_metrics(out, _every_binding(-0.123456789), registry().expectations)
    for tier in Tier:
        names = {p.name for p in (out / tier.value).iterdir()}
        claims = {c.id for c in load_all() if tier in c.tiers}
        assert names == {"summary.json"} | {f"{cid}.json" for cid in claims}, tier
    lines = _dvc_table(tmp_path, written)
    header = lines[0].split()
    assert header == ["Path", *sorted(dvc_metrics.COLUMNS)]
    assert len(lines) == 1 + len(written)
    assert max(len(line.rstrip()) for line in lines) <= 160, max(lines, key=len)


def test_metrics_summary_counts_every_binding_of_the_tier(tmp_path: Path) -> None:
    runs = _every_binding(0.5)
    dvc_metrics.write_metrics(tmp_path, runs, {})
    for tier in Tier:
        summary = json.loads((tmp_path / tier.value / "summary.json").read_text())
        mine = [r for r in runs if r[1] is tier]
        positive = [r for r in mine if r[2] is None or not r[2].control]
        assert summary["replicated"] + summary["not_run"] == len(positive)
        assert summary["not_run"] == sum(r[3].status is Status.NOT_RUN for r in positive)
        assert summary["controls_unexpected"] == 0


def test_stale_claim_files_are_removed(tmp_path: Path) -> None:
    (tmp_path / "old.claim.json").write_text("{}")
    dvc_metrics.write_files(tmp_path, {"summary.json": {"replicated": 1}}, ".json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_sweep_curves_are_per_target_and_family_mean_over_seeds_sorted_by_l0() -> None:
    frame = pd.DataFrame([
        {"tier": "toy", "target": "t", "seed": 0, "topk_k2_l0": 2.0, "topk_k2_r2": 0.4, "topk_k8_l0": 8.0,
         "topk_k8_r2": 0.8, "standard_l1_0.1_l0": 30.0, "standard_l1_0.1_r2": 0.9, "standard_l1_1_l0": 3.0,
         "standard_l1_1_r2": 0.5, "relu_chosen_l0": 4.0, "relu_chosen_r2": 0.6, "topk_l0_max_abs_deviation": 0.0},
        {"tier": "toy", "target": "t", "seed": 1, "topk_k2_l0": 2.0, "topk_k2_r2": 0.6, "topk_k8_l0": 8.0,
         "topk_k8_r2": 0.8},
    ])
    curves = dvc_metrics.sweep_curves(frame)
    assert sorted(curves) == ["t/standard_l1.csv", "t/topk.csv"]  # relu_chosen: one point, not a sweep
    assert curves["t/topk.csv"] == [{"label": "k2", "l0": 2.0, "r2": pytest.approx(0.5), "seeds": 2},
                                    {"label": "k8", "l0": 8.0, "r2": pytest.approx(0.8), "seeds": 2}]
    assert [r["label"] for r in curves["t/standard_l1.csv"]] == ["1", "0.1"]  # by L0
    assert dvc_metrics.to_csv(curves["t/topk.csv"]).splitlines()[0] == "label,l0,r2,seeds"


def test_run_writes_the_metrics_and_plots_dvc_declares(tmp_path: Path) -> None:
    claim = "bimodality.autointerp_correlation"  # needs an LLM judge: not run, instantly
    assert main(["run", "--claim", claim, "--results-dir", str(tmp_path / "results"),
                 "--metrics", str(tmp_path / "claims"), "--plots", str(tmp_path / "sweeps"), "--quiet"]) == 0
    tiers = [t.value for t in Tier if t in next(c for c in load_all() if c.id == claim).tiers]
    for tier in tiers:
        row = json.loads((tmp_path / "claims" / tier / f"{claim}.json").read_text())
        assert row["not_run"] == 1 and "value" not in row
        assert (tmp_path / "sweeps" / tier).is_dir()


def test_dvc_yaml_declares_what_the_run_writes() -> None:
    from replication.papers import registry

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())
    real = yaml.safe_load((REPO / "pipelines" / "real" / "dvc.yaml").read_text())["stages"]["real"]
    declared = {"toy": stages["stages"]["toy"], "tinylm": stages["stages"]["tinylm-claims"], "real": real}
    for tier, stage in declared.items():
        assert "--metrics metrics/claims " in stage["cmd"]
        assert [next(iter(m)) for m in stage["metrics"]] == [f"metrics/claims/{tier}"]
        if "--plots metrics/sweeps " in stage["cmd"]:
            assert f"metrics/sweeps/{tier}" in [next(iter(o)) if isinstance(o, dict) else o for o in stage["outs"]]
    targets = registry().targets
    for plot in stages["plots"]:
        (name, spec), = plot.items()
        assert spec["x"] == "l0"
        for path, y in spec["y"].items():
            _, _, tier, target, family = path.split("/")
            assert targets[target].tier.value == tier and family.endswith(".csv") and y in dvc_metrics.SWEEP_Y
