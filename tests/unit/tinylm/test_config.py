"""params.yaml through the tiny-LM stages: every key type- and range-checked at load, errors naming the
file and ``tinylm.<profile>.<stage>.<key>`` (issue 16)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from replication.tinylm.config import PARAMS_FILE, ParamsError, stage_params

PARAMS = yaml.safe_load(PARAMS_FILE.read_text())


def _params_file(tmp_path: Path, edit) -> Path:
    params = copy.deepcopy(PARAMS)
    edit(params["tinylm"]["smoke"])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_the_repository_params_pass() -> None:
    for profile in ("full", "smoke"):
        for stage in ("corpus", "tokenizer", "lm", "activations", "saes"):
            assert isinstance(stage_params(stage, profile), dict)


@pytest.mark.parametrize(("stage", "edit", "message"), [
    ("lm", lambda p: p["lm"].update(n_layers=2.5), "tinylm.smoke.lm.n_layers must be a whole number, got 2.5"),
    ("lm", lambda p: p["lm"].update(lr="3e-3"), "tinylm.smoke.lm.lr must be a number, got the string '3e-3'"),
    ("lm", lambda p: p["lm"].update(steps="200"), "tinylm.smoke.lm.steps must be a whole number, got the string"),
    ("lm", lambda p: p["lm"].update(lr=-1.0), "tinylm.smoke.lm.lr must be > 0, got -1.0"),
    ("lm", lambda p: p["lm"].pop("d_model"), "tinylm.smoke.lm.d_model is missing"),
    ("lm", lambda p: p["lm"].update(lr_final_fraction=2.0), "lr_final_fraction must be <= 1"),
    ("lm", lambda p: p["lm"].update(stepz=1), "tinylm.smoke.lm.stepz is not a parameter"),
    ("corpus", lambda p: p["corpus"].update(min_chars=True), "tinylm.smoke.corpus.min_chars must be a whole number"),
    ("corpus", lambda p: p["corpus"]["sources"][0].update(include="[a-b]*.py"),
     r"tinylm.smoke.corpus.sources[0].include must be a list of strings"),
    ("corpus", lambda p: p["corpus"]["sources"][0].update(kind="nope"), "sources[0].kind must be one of"),
    ("corpus", lambda p: p["corpus"].update(heldout_fraction=0), "heldout_fraction must be > 0"),
    ("tokenizer", lambda p: p["tokenizer"].update(vocab_size="512"), "tinylm.smoke.tokenizer.vocab_size must be"),
    ("activations", lambda p: p["activations"].update(hooks=["blocks.0.hook_resid_post"]),
     "tinylm.smoke.activations.hooks must map a name to a hook"),
    ("activations", lambda p: p["activations"].update(dtype="int8"), "dtype must be one of float16, float32"),
    ("saes", lambda p: p["saes"].update(budget_fraction=0), "budget_fraction must be > 0"),
])
def test_a_bad_key_names_the_file_and_the_key(tmp_path: Path, stage: str, edit, message: str) -> None:
    path = _params_file(tmp_path, edit)
    before = path.read_bytes()
    with pytest.raises(ParamsError) as err:
        stage_params(stage, "smoke", path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)
    assert "\n" not in str(err.value) and path.read_bytes() == before


def test_a_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("tinylm:\n  smoke: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML at line") as err:
        stage_params("lm", "smoke", path)
    assert str(path) in str(err.value) and "<unicode string>" not in str(err.value)


def test_a_missing_group_names_the_file(tmp_path: Path) -> None:
    path = _params_file(tmp_path, lambda p: p.pop("lm"))
    with pytest.raises(ParamsError, match="has no group tinylm.smoke.lm"):
        stage_params("lm", "smoke", path)


def test_a_stage_with_bad_params_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    path = _params_file(tmp_path, lambda p: p["corpus"]["sources"][0].update(include="[a-b]*.py"))
    root = tmp_path / "data"
    done = subprocess.run([sys.executable, "-m", "replication.tinylm", "corpus", "--profile", "smoke",
                           "--params", str(path), "--root", str(root)], capture_output=True, text=True, check=False,
                          cwd=Path(__file__).resolve().parents[3], timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "tinylm.smoke.corpus.sources[0].include must be a list" in lines[0]
    assert not root.exists()
