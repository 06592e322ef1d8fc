"""Toy training through sae-lens, the on-disk cache, and the input checks."""

from __future__ import annotations

from pathlib import Path

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given

from replication.cache import cached_dir, config_hash
from replication.checks import InvalidWeightsError, ShapeMismatchError, check_finite_weights, check_sae_input
from replication.metrics import l0_per_token
from replication.training import SAESpec, train_sae
from toy_models import SparseFeatureToy

TINY = dict(training_samples=64 * 20, batch_size=64, lr=1e-3)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SAE_REPLICATION_CACHE", str(tmp_path))
    import replication.training as training

    monkeypatch.setattr(training, "_MEMO", {})
    return tmp_path


def test_config_hash_is_order_free_and_discriminating() -> None:
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        config_hash({"a": object()})


def test_cached_dir_builds_once(tmp_path: Path) -> None:
    calls = []

    def build(d: Path) -> None:
        calls.append(d)
        (d / "x.txt").write_text("hi")

    first = cached_dir("k", {"a": 1}, build, root=tmp_path)
    second = cached_dir("k", {"a": 1}, build, root=tmp_path)
    assert first == second and len(calls) == 1 and (first / "x.txt").read_text() == "hi"


def test_interrupted_build_leaves_nothing(tmp_path: Path) -> None:
    def build(d: Path) -> None:
        (d / "half.txt").write_text("half")
        raise RuntimeError("killed mid-training")

    with pytest.raises(RuntimeError, match="killed"):
        cached_dir("k", {"a": 1}, build, root=tmp_path)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_trained_sae_round_trips_through_the_cache(cache: Path) -> None:
    data = SparseFeatureToy(d_in=8, n_features=16)
    spec = SAESpec.make("topk", 16, k=2, **TINY)
    first = train_sae(spec, data, seed=0)
    assert (first.path / "final" / "cfg.json").exists() and first.path.is_relative_to(cache)
    import replication.training as training

    training._MEMO.clear()
    again = train_sae(spec, data, seed=0)  # from disk, not retrained
    torch.testing.assert_close(again.sae.W_dec, first.sae.W_dec, rtol=0, atol=0)
    other_seed = train_sae(spec, data, seed=1)
    assert other_seed.path != first.path


def test_unknown_architecture_lists_known_ones(cache: Path) -> None:
    with pytest.raises(KeyError, match="unknown SAE architecture 'nope'.*topk"):
        train_sae(SAESpec.make("nope", 8, **TINY), SparseFeatureToy(d_in=8, n_features=16), 0)


def test_sae_whose_shape_does_not_match_its_data(cache: Path) -> None:
    sae = train_sae(SAESpec.make("standard", 16, **TINY), SparseFeatureToy(d_in=8, n_features=16), 0).sae
    with pytest.raises(ShapeMismatchError, match=r"shape \(5, 7\) but the SAE expects \(tokens, d_in=8\)"):
        check_sae_input(sae, torch.zeros(5, 7))
    check_sae_input(sae, torch.zeros(5, 8))


def test_invalid_weights_are_named(cache: Path) -> None:
    sae = train_sae(SAESpec.make("standard", 16, **TINY), SparseFeatureToy(d_in=8, n_features=16), 0).sae
    with torch.no_grad():
        sae.W_dec[3] = 0.0
    with pytest.raises(InvalidWeightsError, match=r"decoder rows \[3\] have zero norm"):
        check_finite_weights(sae)
    with torch.no_grad():
        sae.W_enc[0, 0] = float("nan")
    with pytest.raises(InvalidWeightsError, match="W_enc has 1 non-finite"):
        check_finite_weights(sae)


@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 16))
def test_sae_lens_topk_keeps_exactly_k_when_the_top_k_are_positive(seed: int, k: int) -> None:
    """Instrument for topk.exact_sparsity: sae-lens's TopK activation (TopK, then ReLU)."""
    from sae_lens.saes.topk_sae import TopK

    g = torch.Generator().manual_seed(seed)
    pre = torch.randn(32, 16, generator=g).abs() + 1e-3  # strictly positive pre-activations
    assert l0_per_token(TopK(k)(pre)).tolist() == [k] * 32
    # with negative pre-activations the ReLU can leave fewer than k: the claim's metric would see it
    assert int(l0_per_token(TopK(k)(-pre)).max()) == 0


def test_toy_data_is_deterministic_given_the_generator() -> None:
    data = SparseFeatureToy(d_in=8, n_features=16)
    a = data.sample(10, torch.Generator().manual_seed(3))
    b = data.sample(10, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(data.directions.norm(dim=-1), torch.ones(16), rtol=0, atol=1e-5)


def test_a_parallel_worker_that_finished_first_wins(tmp_path: Path) -> None:
    """Two test workers may build the same artefact; the second keeps the first's and discards its own."""
    from replication.cache import config_hash

    final = tmp_path / "k" / config_hash({"a": 1})

    def build(d: Path) -> None:
        (d / "mine.txt").write_text("mine")
        final.mkdir(parents=True)  # meanwhile, another worker completes the same artefact
        (final / "theirs.txt").write_text("theirs")
        (final / "DONE").write_text("")

    path = cached_dir("k", {"a": 1}, build, root=tmp_path)
    assert (path / "theirs.txt").exists() and not (path / "mine.txt").exists()
    assert [p.name for p in (tmp_path / "k").iterdir()] == [final.name]  # no temporary left behind


# -- issue 16: a damaged cache entry is rebuilt with one line said, never used; stale builds are removed ----

def _counting_build(calls: list[int], text: str = "weights"):
    def build(d: Path) -> None:
        calls.append(1)
        (d / "w.bin").write_text(text)
    return build


@pytest.mark.parametrize("damage", ["truncate", "replace", "delete", "done"])
def test_a_damaged_entry_is_rebuilt_and_never_used(tmp_path: Path, damage: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[int] = []
    path = cached_dir("k", {"a": 1}, _counting_build(calls), root=tmp_path)
    assert "w.bin" in (path / "DONE").read_text()  # DONE records the content hashes
    weights = path / "w.bin"
    if damage == "truncate":
        weights.write_text("wei")
    elif damage == "replace":
        weights.write_text("WEIGHTS")  # same size, other content
    elif damage == "delete":
        weights.unlink()
    else:
        (path / "DONE").write_bytes(b"\xff")
    again = cached_dir("k", {"a": 1}, _counting_build(calls), root=tmp_path)
    assert again == path and weights.read_text() == "weights" and len(calls) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"cache: rebuilding {path}: "), err
    assert [p.name for p in (tmp_path / "k").iterdir()] == [path.name]


def test_an_entry_that_fails_to_load_is_rebuilt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[int] = []
    cached_dir("k", {"a": 1}, _counting_build(calls), root=tmp_path)
    failures = iter([RuntimeError("SafetensorError: incomplete metadata")])

    def check(path: Path) -> None:
        err = next(failures, None)
        if err is not None:
            raise err

    cached_dir("k", {"a": 1}, _counting_build(calls), root=tmp_path, check=check)
    assert len(calls) == 2
    assert "cannot be loaded (RuntimeError: SafetensorError: incomplete metadata)" in capsys.readouterr().err


def test_an_intact_entry_is_used_without_rebuilding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[int] = []
    cached_dir("k", {"a": 1}, _counting_build(calls), root=tmp_path)
    cached_dir("k", {"a": 1}, _counting_build(calls), root=tmp_path, check=lambda p: None)
    assert len(calls) == 1 and capsys.readouterr().err == ""


def test_a_truncated_cached_sae_is_retrained(cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import replication.training as training

    data = SparseFeatureToy(d_in=8, n_features=16)
    spec = SAESpec.make("topk", 16, k=2, **TINY)
    first = train_sae(spec, data, seed=0)
    w_dec = first.sae.W_dec.detach().clone()  # the loaded SAE may map its file: copy before damaging it
    weights = first.path / "final" / "sae_weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:20])
    training._MEMO.clear()
    again = train_sae(spec, data, seed=0)
    torch.testing.assert_close(again.sae.W_dec, w_dec, rtol=0, atol=0)
    assert "cache: rebuilding" in capsys.readouterr().err


def test_stale_build_folders_of_dead_processes_are_removed(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from replication.cache import config_hash

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    host = socket.gethostname()
    kind = tmp_path / "k"
    stale = kind / f".{config_hash({'b': 2})}.{host}-{dead}.abc_123.tmp"
    live = kind / f".{config_hash({'b': 3})}.{host}-{__import__('os').getpid()}.abc_123.tmp"
    legacy = kind / f".{config_hash({'b': 4})}.abc_123.tmp"
    for folder in (stale, live, legacy):
        folder.mkdir(parents=True)
        (folder / "part").write_text("x")
    cached_dir("k", {"a": 1}, lambda d: (d / "w").write_text("w"), root=tmp_path)
    assert not stale.exists() and live.exists() and legacy.exists()


# ------------------------------------------------------------------------------------- replayed batches

def _fresh_draws(data: SparseFeatureToy, batch_size: int, seed: int, n: int) -> list[torch.Tensor]:
    """What a training run drew before batches were replayed: a generator seeded from the seed, drawn in turn."""
    g = torch.Generator().manual_seed(10_000 + seed)
    return [data.sample(batch_size, g) for _ in range(n)]


@pytest.mark.parametrize("max_batches", [0, 3, 100])
def test_replayed_batches_are_the_fresh_draws_across_the_kept_prefix(max_batches: int,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import replication.training as training

    data = SparseFeatureToy(d_in=8, n_features=16)
    one_batch = 16 * 8 * 4  # float32
    monkeypatch.setattr(training, "_STREAM", {})
    monkeypatch.setattr(training, "STREAM_MAX_BYTES", max_batches * one_batch)
    expected = _fresh_draws(data, 16, 3, 10)
    for reader in range(3):  # the first draws, the others replay; all continue past the kept prefix alike
        batches = training._batches(data, 16, 3)
        got = [next(batches) for _ in range(10 if reader != 1 else 5)]
        assert all(torch.equal(a, b) for a, b in zip(got, expected)), f"reader {reader}"
    stream = next(iter(training._STREAM.values()))
    assert len(stream.batches) == min(max(max_batches, 1), 10)


def test_a_reader_that_writes_into_its_batch_does_not_change_the_next_readers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import replication.training as training

    monkeypatch.setattr(training, "_STREAM", {})
    data = SparseFeatureToy(d_in=8, n_features=16)
    next(training._batches(data, 16, 0)).mul_(0)
    assert torch.equal(next(training._batches(data, 16, 0)), _fresh_draws(data, 16, 0, 1)[0])


def test_a_sae_trained_on_replayed_batches_is_the_one_trained_on_fresh_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    import replication.training as training

    data = SparseFeatureToy(d_in=8, n_features=16)
    spec = SAESpec.make("topk", 16, k=2, **TINY)
    monkeypatch.setattr(training, "_STREAM", {})
    first = training.fit(spec, data, seed=1)  # draws the stream
    replayed = training.fit(spec, data, seed=1)  # replays it
    monkeypatch.setattr(training, "STREAM_MAX_BYTES", 0)
    monkeypatch.setattr(training, "_STREAM", {})
    live = training.fit(spec, data, seed=1)  # one kept batch, then fresh draws
    for other in (replayed, live):
        assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), other.state_dict().values()))
