"""`sae-replicate check` end to end, offline: a GPT-2-style model and two sae-lens SAEs that the shipped example
script writes (scripts/example_sae.py), the verdicts on a planted antipodal pair and without one, the report's
section, and bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
PAIR_CLAIMS = ("antipodal.pair_never_coactive", "antipodal.pair_diff_tracks_u1", "antipodal.example_pairs")
N_TOKENS = "4000"


def _example_module():
    spec = importlib.util.spec_from_file_location("example_sae", REPO / "scripts" / "example_sae.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _example_module().write_example(tmp_path_factory.mktemp("example"))


def _check(example: dict[str, Path], sae: Path | str, results: Path, *extra: str) -> int:
    from replication.cli import main

    return main(["check", "--model", str(example["model"]), "--sae", str(sae), "--text", str(example["text"]),
                 "--tokens", N_TOKENS, "--results-dir", str(results), "--quiet", *extra])


def _statuses(results: Path, target: str) -> dict[str, str]:
    from replication.report import collect_rows
    from replication.results import iter_records

    return {r.claim.id: r.status for r in collect_rows(iter_records(results)) if r.user and r.target == target}


@pytest.fixture(scope="module")
def checked(example: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("check-results")
    assert _check(example, example["sae-pair"], results) == 0
    assert _check(example, example["sae-nopair"], results) == 0
    return results


def test_the_planted_pair_replicates_and_the_random_saes_does_not(checked: Path) -> None:
    pair = _statuses(checked, "user-model-sae-pair")
    nopair = _statuses(checked, "user-model-sae-nopair")
    for claim in PAIR_CLAIMS:
        assert pair[claim] == "replicated", (claim, pair[claim])
        assert nopair[claim] in ("not replicated", "inconclusive"), (claim, nopair[claim])
    # a JumpReLU and a ReLU SAE: the TopK-only trend claim is not run, with why
    assert "antipodal.cross_model_trend" not in pair and "bimodality.scores_bimodal" in pair


def test_records_are_real_tier_records_of_a_user_target(checked: Path) -> None:
    from replication.results import iter_records

    records = [r for r in iter_records(checked) if r.target == "user-model-sae-pair"]
    assert records and {r.tier for r in records} == {"real"} and {r.seed for r in records} == {None}
    assert {r.reading for r in records if r.claim_id == "antipodal.pair_diff_tracks_u1"} == {"processed", "raw"}
    arrays = sorted(p.name for p in (checked / "real" / "user-model-sae-pair" / "_arrays").iterdir())
    assert arrays == ["antipodal-user-seed-none.npz", "bimodality-user-seed-none.npz"]


def test_the_report_has_a_section_for_the_users_saes(checked: Path, tmp_path: Path) -> None:
    from replication.report import build_report

    build_report(checked, tmp_path, html=False)
    text = (tmp_path / "report.md").read_text()
    section = text.split("## Your SAEs (sae-replicate check)", 1)[1]
    assert "### user-model-sae-pair" in section and "### user-model-sae-nopair" in section
    assert (tmp_path / "figures" / "antipodal-fig2a-pair-difference.png").exists()
    assert (tmp_path / "figures" / "bimodality-fig7-alignment-histograms.png").exists()


def test_the_python_function_takes_loaded_objects(example: dict[str, Path]) -> None:
    from replication.check import check, token_stream
    from replication.lm.load import SAESource, load_hooked_transformer
    from replication.lm.text import TextSource

    model = load_hooked_transformer(str(example["model"]))
    sae = SAESource(path=str(example["sae-pair"])).load()
    tokens = token_stream(model, text=TextSource(folder=str(example["text"])), n_tokens=2000)
    verdicts = {v.claim_id: v for v in check(model, sae, tokens=tokens, papers=("antipodal",), quiet=True)}
    assert verdicts["antipodal.pair_diff_tracks_u1"].status.value == "replicated"
    assert not any(v.claim_id.startswith("bimodality.") for v in verdicts.values())


def _bad_sae(example: dict[str, Path], out: Path, *, d_in: int = 32, nan: bool = False, zero_row: bool = False,
             hook: str = "blocks.2.hook_resid_post") -> Path:
    from sae_lens.registry import get_sae_class
    from sae_lens.saes.sae import SAEMetadata

    cls, cfg_cls = get_sae_class("jumprelu")
    sae = cls(cfg_cls(d_in=d_in, d_sae=16, metadata=SAEMetadata(hook_name=hook)))
    with torch.no_grad():
        sae.W_dec.normal_(generator=torch.Generator().manual_seed(0))
        if nan:
            sae.b_enc[3] = float("nan")
        if zero_row:
            sae.W_dec[5] = 0.0
    sae.save_model(out)
    return out


@pytest.mark.parametrize("case, match", [
    ("d_in", "d_in = 16 but blocks.2.hook_resid_post has width d_model = 32"),
    ("hook", "the model has no hook 'blocks.9.hook_resid_post'"),
    ("nan", "non-finite"),
    ("zero", "zero norm"),
    ("not-a-sae", "neither a folder nor RELEASE/SAE_ID"),
    ("hub-sae", "hf download"),
])
def test_bad_input_is_one_line_and_exit_2_with_nothing_written(case: str, match: str, example: dict[str, Path],
                                                               tmp_path: Path, capsys: pytest.CaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    monkeypatch.delenv("SAE_REPLICATION_ALLOW_DOWNLOAD", raising=False)
    sae: Path | str = {
        "d_in": lambda: _bad_sae(example, tmp_path / "sae", d_in=16),
        "hook": lambda: _bad_sae(example, tmp_path / "sae", hook="blocks.9.hook_resid_post"),
        "nan": lambda: _bad_sae(example, tmp_path / "sae", nan=True),
        "zero": lambda: _bad_sae(example, tmp_path / "sae", zero_row=True),
        "not-a-sae": lambda: "no-such-sae",
        "hub-sae": lambda: "gemma-scope-2b-pt-res-canonical/layer_25/width_16k/canonical",
    }[case]()
    results = tmp_path / "results"
    capsys.readouterr()
    assert _check(example, sae, results) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sae-replicate check: ") and match in err[0], err
    assert not results.exists() or not any(results.rglob("*.json"))


def test_a_gpt2_written_by_todays_transformers_loads(example: dict[str, Path]) -> None:
    """transformers 5 writes GPT-2 configs without ``n_ctx``, which transformer-lens's conversion reads."""
    from replication.lm.load import load_hooked_transformer

    assert "n_ctx" not in json.loads((example["model"] / "config.json").read_text())
    model = load_hooked_transformer(str(example["model"]))
    assert model.cfg.n_ctx == 64 and model.cfg.model_name == "model"
