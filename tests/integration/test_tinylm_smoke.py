"""The tiny-LM pipeline end to end on its `smoke` profile (the plumbing, not the science).

``test_smoke_pipeline_end_to_end`` runs in the default (CI) test run: every stage's ``main()`` with
``params.yaml``'s ``smoke`` group, into a temporary directory, then one SAE trained by ``train_sae`` on
the cached activations (~15 s on one thread). The ``tinylm``-marked tests are heavier: ``dvc repro`` of the
smoke stages twice (the second run reruns nothing), and checks of the full profile's built artefacts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[2]


def _build_smoke(tmp_path: Path) -> Path:
    """Every stage's ``main()`` with params.yaml's ``smoke`` group, into ``tmp_path`` (~13 s), on the CPU (a
    GPU machine would train on CUDA, whose bytes need not repeat)."""
    from replication.device import DEVICE_ENV
    from replication.tinylm.activations import main as activations_main
    from replication.tinylm.corpus import main as corpus_main
    from replication.tinylm.tokenizer import main as tokenizer_main
    from replication.tinylm.train import main as lm_main

    common = ["--profile", "smoke", "--root", str(tmp_path / "data"), "--params", str(REPO / "params.yaml")]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(DEVICE_ENV, "cpu")
        assert corpus_main(common) == 0
        assert tokenizer_main(common) == 0
        assert lm_main([*common, "--metrics-dir", str(tmp_path / "metrics")]) == 0
        assert activations_main(common) == 0
    return tmp_path


@pytest.fixture(scope="module")
def smoke_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_smoke(tmp_path_factory.mktemp("tinylm-smoke"))


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root`` but the stages' provenance: its bytes and mode."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o777)
            for p in sorted(root.rglob("*")) if p.is_file() and p.parent.name != "provenance"}


def test_the_smoke_stages_built_twice_write_the_same_bytes(smoke_root: Path, tmp_path: Path) -> None:
    """Issue 19: every stage output (corpus, tokenizer, lm, activations, DVC's lm.json and curve) is
    byte-identical between two builds, and every file has the same (usual) mode, model.safetensors too;
    what varies (the LM's training wall time) is only in <profile>/provenance/lm.json."""
    again = _build_smoke(tmp_path)
    one, two = _tree(smoke_root), _tree(again)
    assert {k.split("/")[2] for k in one if k.startswith("data/")} == {"corpus", "tokenizer", "lm", "activations"}
    assert sorted(one) == sorted(two)
    assert [k for k in one if one[k][0] != two[k][0]] == []
    assert {mode for _, mode in one.values()} == {0o666 & ~_umask()}
    prov = json.loads((smoke_root / "data" / "smoke" / "provenance" / "lm.json").read_text())
    assert set(prov) == {"train_wall_s", "threads", "device", "timestamp"} and prov["train_wall_s"] > 0
    assert prov["device"] == "cpu"
    assert "train_wall_s" not in json.loads((smoke_root / "data" / "smoke" / "lm" / "metrics.json").read_text())


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_smoke_pipeline_end_to_end(smoke_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import replication.training as training
    from replication.lm.cache import CachedActivations
    from replication.tinylm import artifacts, load_tinylm
    from replication.training import SAESpec, train_sae

    paths = artifacts("smoke", smoke_root / "data")
    provenance = json.loads((paths.corpus / "provenance.json").read_text())
    assert provenance["splits"]["train"]["documents"] > 0 and provenance["splits"]["heldout"]["documents"] > 0
    metrics = json.loads((paths.lm / "metrics.json").read_text())
    # DVC's headline: the held-out loss alone, in the column the claims' metrics share
    assert json.loads((smoke_root / "metrics" / "lm.json").read_text()) == {"value": metrics["heldout_loss"]}
    # plumbing check: 200 steps of training do something (measured: 4.80 vs 5.10 nats on this profile)
    assert metrics["heldout_loss"] < metrics["unigram_heldout_loss"]

    params = yaml.safe_load((REPO / "params.yaml").read_text())["tinylm"]["smoke"]
    model = load_tinylm(paths.lm)
    last = f"blocks.{model.cfg.n_layers - 1}.hook_resid_post"
    assert last in params["activations"]["hooks"].values()
    acts = CachedActivations(paths.activations, last)
    assert acts.n_train == params["activations"]["train_tokens"] and acts.d_in == model.cfg.d_model

    monkeypatch.setenv("SAE_REPLICATION_CACHE", str(tmp_path / "sae-cache"))
    monkeypatch.setattr(training, "_MEMO", {})
    sae = train_sae(SAESpec.make("topk", 64, k=4, training_samples=128 * 20, batch_size=128, lr=1e-3),
                        acts, seed=0).sae
    out = sae.decode(sae.encode(acts.eval_batch(256)))
    assert out.shape == (256, acts.d_in) and torch.isfinite(out).all()


def test_every_tinylm_claim_runs_on_the_smoke_profile(smoke_root: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole tier's plumbing in CI: every claim that lists the tinylm tier, through its analysis, the
    runner and the results store, on the smoke LM with SAEs trained for a few dozen steps
    (``tinylm.smoke.saes.budget_fraction``), on each target's first seed (judging over several seeds is the
    toy tier's plumbing too, in every default run). Verdicts are not asserted: this is plumbing, not science."""
    import dataclasses

    import replication.training as training
    from replication.claims import Tier, load_all
    from replication.results import iter_records
    from replication.runner import Runner
    from replication.papers import registry as load_analyses
    from replication.verdict import Status

    monkeypatch.setenv("SAE_REPLICATION_TINYLM_PROFILE", "smoke")
    monkeypatch.setenv("SAE_REPLICATION_TINYLM_DIR", str(smoke_root / "data"))
    monkeypatch.setenv("SAE_REPLICATION_CACHE", str(tmp_path / "sae-cache"))
    monkeypatch.setattr(training, "_MEMO", {})
    claims, analyses = load_all(), load_analyses()
    runner = Runner(results_dir=tmp_path / "results")
    judged = []
    for claim in claims:
        for tier, target, analysis in analyses.bindings(claim):
            if tier is not Tier.TINYLM:
                continue
            if target is not None:
                target = dataclasses.replace(target, seeds=target.seeds[:1])
            verdict = runner.verdict(claim, tier, target, analysis)
            judged.append((claim.id, verdict.status))
            if target is not None:
                assert verdict.status is not Status.NOT_RUN, verdict.summary()  # judged, or inconclusive
    implemented = {cid for cid, status in judged if status is not Status.NOT_RUN}
    assert {r.claim_id for r in iter_records(tmp_path / "results")} == implemented
    assert any(cid.startswith("antipodal.") for cid in implemented)


def _tinylm_stages(dvc_yaml: dict) -> dict:
    return {"stages": {k: v for k, v in dvc_yaml["stages"].items() if k.startswith("tinylm-")}}


@pytest.mark.tinylm
@pytest.mark.skipif(shutil.which("dvc") is None, reason="needs dvc: `pip install -e .` installs it")
def test_dvc_repro_of_the_smoke_stages_twice_reruns_nothing(tmp_path: Path) -> None:
    shutil.copytree(REPO / "replication", tmp_path / "replication",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(REPO / "params.yaml", tmp_path / "params.yaml")
    stages = _tinylm_stages(yaml.safe_load((REPO / "dvc.yaml").read_text()))
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(stages, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "DVC_NO_ANALYTICS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SAE_REPLICATION_TINYLM_DIR", None)

    def dvc(*args: str) -> str:
        done = subprocess.run(["dvc", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    dvc("init", "--no-scm", "-q")
    first = dvc("repro", "tinylm-activations@smoke")
    for stage in ("corpus", "tokenizer", "lm", "activations"):
        assert f"Running stage 'tinylm-{stage}@smoke'" in first
    assert "@full" not in first
    second = dvc("repro", "tinylm-activations@smoke")
    assert "Running stage" not in second, second
    assert "lm.json" in dvc("metrics", "show")


@pytest.mark.tinylm
def test_full_profile_lm_beats_the_unigram_baseline() -> None:
    from replication.tinylm import artifacts, availability

    missing = availability("full")
    if missing:
        pytest.skip(missing)
    metrics = json.loads((artifacts("full").lm / "metrics.json").read_text())
    assert metrics["heldout_loss"] < metrics["unigram_heldout_loss"]
    manifest = json.loads((artifacts("full").activations / "manifest.json").read_text())
    assert all(n > 0 for n in (manifest["splits"]["train"]["tokens"], manifest["splits"]["heldout"]["tokens"]))


def test_the_report_reads_the_lm_and_its_provenance(smoke_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's tiny-LM lines (a DVC output: no wall time) and its run provenance (the training time)."""
    from replication.report import _tinylm_lines, _tinylm_run_provenance, run_provenance_lines

    monkeypatch.setenv("SAE_REPLICATION_TINYLM_DIR", str(smoke_root / "data"))
    monkeypatch.setenv("SAE_REPLICATION_TINYLM_PROFILE", "smoke")
    lines = _tinylm_lines()
    assert any(line.startswith("LM: ") and "held-out loss" in line for line in lines)
    assert not any("trained in" in line for line in lines)
    prov = _tinylm_run_provenance()
    assert prov is not None and any(line.startswith("- tiny LM: trained in ")
                                    for line in run_provenance_lines([], {}, prov))
