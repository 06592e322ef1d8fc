"""Where the suite computes (issue 17): CUDA when torch sees a GPU, the CPU otherwise, and
``SAE_REPLICATION_DEVICE`` overriding both; records name the device that was chosen. No GPU needed:
``torch.cuda.is_available`` is monkeypatched."""

from __future__ import annotations

import pytest
import torch

from replication.device import DEVICE_ENV, best_device
from replication.provenance import device_description


@pytest.mark.parametrize(("cuda", "env", "chosen"), [
    (True, None, "cuda"), (False, None, "cpu"), (True, "auto", "cuda"), (False, "", "cpu"),
    (True, "cpu", "cpu"), (True, "CUDA", "cuda"), (False, "cpu", "cpu"),
])
def test_best_device_is_cuda_when_there_is_one_unless_overridden(cuda: bool, env: str | None, chosen: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    if env is None:
        monkeypatch.delenv(DEVICE_ENV, raising=False)
    else:
        monkeypatch.setenv(DEVICE_ENV, env)
    assert best_device() == chosen


def test_asking_for_cuda_without_one_or_for_an_unknown_device_fails_with_the_fix(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv(DEVICE_ENV, "cuda")
    with pytest.raises(RuntimeError, match="sees no CUDA device.*unset it"):
        best_device()
    monkeypatch.setenv(DEVICE_ENV, "tpu")
    with pytest.raises(ValueError, match="use one of cpu, cuda"):
        best_device()


def test_the_lm_loaders_device_is_the_same_choice() -> None:
    from replication.lm import load

    assert load.best_device is best_device


def test_records_name_the_device_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA H200")
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert device_description() == "cuda:NVIDIA H200"
    monkeypatch.setenv(DEVICE_ENV, "cpu")  # a GPU machine kept on the CPU says so
    assert device_description().startswith("cpu:")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv(DEVICE_ENV)
    assert device_description() == f"cpu:{__import__('platform').machine()} x{torch.get_num_threads()} threads"
