"""Real-tier loading: an SAE with NaN weights or a zero-norm decoder row is refused on load, naming its
source; a target's availability names every missing item at once (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from replication.checks import InvalidWeightsError
from replication.lm.load import SAESource, missing_items
from replication.lm.spec import LMTargetSpec


def _saved_sae(path: Path, damage: str | None) -> Path:
    from sae_lens import StandardSAE, StandardSAEConfig

    sae = StandardSAE(StandardSAEConfig(d_in=4, d_sae=8))
    with torch.no_grad():
        sae.W_dec.copy_(torch.randn(8, 4))
        if damage == "nan":
            sae.b_enc[3] = float("nan")
        elif damage == "zero":
            sae.W_dec[5] = 0.0
    sae.save_model(str(path))
    return path


@pytest.mark.parametrize(("damage", "message"), [
    ("nan", "SAE parameter b_enc has 1 non-finite entries"), ("zero", "SAE decoder rows [5] have zero norm")])
def test_an_sae_with_invalid_weights_is_refused_naming_its_source(tmp_path: Path, damage: str,
                                                                  message: str) -> None:
    path = _saved_sae(tmp_path / "sae", damage)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in path.iterdir())
    with pytest.raises(InvalidWeightsError) as err:
        SAESource(path=str(path)).load()
    assert str(err.value).startswith(f"SAE {path}: ") and message in str(err.value)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in path.iterdir()) == before


def test_a_valid_sae_loads(tmp_path: Path) -> None:
    sae = SAESource(path=str(_saved_sae(tmp_path / "sae", None))).load()
    assert sae.cfg.d_sae == 8


def test_missing_items_joins_every_missing_one() -> None:
    assert missing_items(None, None) is None
    assert missing_items("model m missing", None, "text t missing") == "model m missing; text t missing"


def test_a_real_targets_availability_names_model_sae_and_text_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import replication.lm.spec as spec_module
    from replication.lm.text import TextSource

    monkeypatch.setattr(spec_module, "model_availability", lambda name: f"model {name} is missing")
    monkeypatch.setattr(TextSource, "availability", lambda self: "text C4 needs downloads")
    spec = LMTargetSpec("t", "d", "some/model", SAESource(path=str(tmp_path / "no-sae")), "blocks.0.hook_resid_post")
    assert spec.availability() == (f"model some/model is missing; {tmp_path / 'no-sae'} has no cfg.json; "
                                   "text C4 needs downloads")
    assert not list(tmp_path.iterdir())
