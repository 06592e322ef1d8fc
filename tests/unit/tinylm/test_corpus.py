"""The tiny-LM corpus builder and tokenizer: determinism, normalisation, the held-out split, the pin, BOS round trip."""

from __future__ import annotations

import json
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given

from replication.tinylm.config import PARAMS_FILE, stage_params, stage_provenance_path
from replication.tinylm.corpus import (
    CorpusConfig,
    CorpusPinError,
    build_corpus,
    is_heldout,
    normalise,
    read_split,
)
from replication.tinylm.tokenizer import (
    BOS,
    BOS_ID,
    as_transformers,
    build_tokenizer,
    load_tokenizer,
    train_bpe,
)

# a small fixed subset of the standard library (present on every Python 3.11) plus a directory of our own
STDLIB_SUBSET = {"kind": "stdlib-docstrings", "include": ["[a-b]*.py"]}


def _text_dir(root: Path) -> Path:
    root.mkdir()
    for i in range(12):
        (root / f"note{i:02d}.txt").write_text(f"Note {i}: the quick brown fox jumps over the lazy dog.\r\n"
                                               f"Line two   \n\n\n\nof document {i}, with a tab\there.\n")
    (root / "dup.txt").write_text((root / "note03.txt").read_text())  # an exact duplicate
    (root / "binary.txt").write_bytes(b"abc\x00def" * 20)  # a NUL byte: skipped
    (root / "latin1.txt").write_bytes("caf\xe9 ".encode("latin-1") * 30)  # not UTF-8: skipped
    (root / "short.txt").write_text("too short")  # under min_chars: dropped
    (root / "ignored.md").write_text("not matched by the pattern " * 10)
    return root


def _config(text_root: Path, **kw) -> CorpusConfig:
    return CorpusConfig.from_params({"sources": [STDLIB_SUBSET, {"kind": "text-files", "root": str(text_root),
                                                                 "patterns": ["*.txt"]}],
                                     "heldout_fraction": 0.2, "min_chars": 32, **kw})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("corpus")
    texts = _text_dir(base / "texts")
    prov = build_corpus(_config(texts), base / "out")
    return base, prov


def test_normalise_fixes_line_ends_controls_trailing_space_and_blank_runs() -> None:
    raw = "a\r\nb\rc  \t\n\n\n\nd\x07e\x1b\n  "
    assert normalise(raw) == "a\nb\nc\n\nde"
    assert normalise("e\u0301") == "\u00e9"  # NFC


@given(st.text(max_size=200))
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


def test_heldout_split_is_a_function_of_the_text_and_nested_in_the_fraction() -> None:
    texts = [f"document number {i}" for i in range(4000)]
    small = {t for t in texts if is_heldout(t, 0.05)}
    large = {t for t in texts if is_heldout(t, 0.2)}
    assert small <= large
    # binomial(4000, p) has sd sqrt(4000 p (1-p)): 13.8 at p=0.05, 25.3 at p=0.2; allow 4 sd
    assert len(small) == pytest.approx(200, abs=4 * 13.8)
    assert len(large) == pytest.approx(800, abs=4 * 25.3)
    assert [is_heldout(t, 0.2) for t in texts[:50]] == [is_heldout(t, 0.2) for t in texts[:50]]


def test_corpus_is_byte_identical_when_rebuilt_from_the_same_sources(corpus, tmp_path: Path) -> None:
    base, prov = corpus
    again = build_corpus(_config(base / "texts"), tmp_path / "again")
    for name in ("train.jsonl", "heldout.jsonl", "provenance.json"):
        assert (tmp_path / "again" / name).read_bytes() == (base / "out" / name).read_bytes(), name
    assert again == prov


def test_provenance_counts_files_documents_and_hashes(corpus) -> None:
    base, prov = corpus
    stdlib, texts = prov["sources"]
    assert stdlib["status"] == texts["status"] == "used" and stdlib["documents"] > 20
    # 16 .txt files: binary + latin1 skipped; 14 read; short dropped; dup dropped -> 12 documents
    assert (texts["files_read"], texts["files_skipped"], texts["documents"]) == (14, 2, 12)
    assert sorted(texts["skipped_examples"]) == ["binary.txt", "latin1.txt"]
    assert prov["duplicates_dropped"] == 1
    import hashlib

    for split in ("train", "heldout"):
        data = (base / "out" / f"{split}.jsonl").read_bytes()
        assert prov["splits"][split]["sha256"] == hashlib.sha256(data).hexdigest()
        assert prov["splits"][split]["documents"] == len(data.splitlines()) > 0
    assert prov["documents"] == stdlib["documents"] + texts["documents"]


def test_what_depends_on_the_machine_is_kept_out_of_the_hashed_output(corpus) -> None:
    base, prov = corpus
    hashed = json.loads((base / "out" / "provenance.json").read_text())
    machine = json.loads(stage_provenance_path(base / "out").read_text())
    assert hashed["pin"] is None and "python" not in hashed and "duplicates_dropped" not in hashed
    assert all(set(s) == {"kind", "options", "documents", "bytes"} for s in hashed["sources"])
    assert machine["duplicates_dropped"] == 1 and machine["sources"][1]["files_skipped"] == 2
    assert {k: v for k, v in prov.items() if k in hashed and k != "sources"} == \
        {k: v for k, v in hashed.items() if k != "sources"}


# -- pinned corpora ---------------------------------------------------------------------------------------

def _pinned(tmp_path: Path) -> tuple[Path, CorpusConfig, dict]:
    texts = _text_dir(tmp_path / "texts")
    config = _config(texts, pin=str(tmp_path / "pin.json"))
    prov = build_corpus(config, tmp_path / "ref", write_pin_to=config.pin)
    return texts, config, prov


def test_a_pinned_build_ignores_what_else_the_machine_has_and_writes_the_same_bytes(tmp_path: Path) -> None:
    texts, config, prov = _pinned(tmp_path)
    assert prov["pin"]["file"] == str(tmp_path / "pin.json") and prov["sources"][1]["unpinned_ignored"] == 0
    (texts / "a-new-package.txt").write_text("documentation a package installed later brought along " * 3)
    again = build_corpus(config, tmp_path / "again")
    for name in ("train.jsonl", "heldout.jsonl", "provenance.json"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name
    assert again["sources"][1]["unpinned_examples"][0].endswith("a-new-package.txt")
    # without the pin the new file is read: the pin is what keeps the text fixed
    unpinned = build_corpus(_config(texts), tmp_path / "unpinned")
    assert unpinned["documents"] == prov["documents"] + 1


@pytest.mark.parametrize("change, message", [
    (lambda texts: (texts / "note05.txt").unlink(), "of the .* pinned documents are not on this machine, e.g. "),
    (lambda texts: (texts / "note05.txt").write_text("Note 5, edited by a package update: " * 3), "differs from"),
])
def test_a_pinned_build_stops_on_a_missing_or_changed_document_and_writes_nothing(tmp_path: Path, change,
                                                                                  message: str) -> None:
    texts, config, _ = _pinned(tmp_path)
    change(texts)
    with pytest.raises(CorpusPinError, match=message) as err:
        build_corpus(config, tmp_path / "out")
    assert "note05.txt" in str(err.value) and "--pin" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists() and not stage_provenance_path(tmp_path / "out").exists()


def test_a_pin_made_for_other_parameters_or_unreadable_is_refused(tmp_path: Path) -> None:
    texts, config, _ = _pinned(tmp_path)
    with pytest.raises(CorpusPinError, match="made for other corpus parameters"):
        build_corpus(_config(texts, pin=str(config.pin), min_chars=10), tmp_path / "out")
    config.pin.write_text("{not json")
    with pytest.raises(CorpusPinError, match="cannot be read"):
        build_corpus(config, tmp_path / "out")
    with pytest.raises(CorpusPinError, match="is missing"):
        build_corpus(_config(texts, pin=str(tmp_path / "absent.json")), tmp_path / "out")


def test_a_relative_pin_is_read_from_the_repository_root() -> None:
    assert CorpusConfig.from_params({"sources": [STDLIB_SUBSET], "pin": "data/x.json"}).pin == \
        PARAMS_FILE.parent / "data" / "x.json"


def test_the_committed_pin_was_made_for_the_full_profiles_parameters() -> None:
    config = CorpusConfig.from_params(stage_params("corpus", "full"))
    assert config.pin is not None and config.pin.is_file()
    pin = json.loads(config.pin.read_text())
    assert pin["made_for"] == config.identity() and len(pin["documents"]) > 1000


def test_the_stage_stops_with_one_line_when_the_machine_lacks_a_pinned_document(tmp_path: Path) -> None:
    import subprocess
    import sys

    import yaml

    pin = tmp_path / "pin.json"
    smoke = stage_params("corpus", "smoke")
    ids = CorpusConfig.from_params(smoke).identity()
    pin.write_text(json.dumps({"made_for": ids, "documents": [[0, "stdlib:no_such_module.py", "0" * 64]]}))
    params = yaml.safe_load(PARAMS_FILE.read_text())
    params["tinylm"]["smoke"]["corpus"]["pin"] = str(pin)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    done = subprocess.run([sys.executable, "-m", "replication.tinylm", "corpus", "--profile", "smoke", "--params",
                           str(tmp_path / "params.yaml"), "--root", str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=120, check=False)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "stdlib:no_such_module.py" in lines[0] and "--pin" in lines[0]
    assert not (tmp_path / "data" / "smoke" / "corpus").exists()
    del params["tinylm"]["smoke"]["corpus"]["pin"]  # --pin needs a pin file to write
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    done = subprocess.run([*done.args, "--pin"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "has no `pin`" in done.stderr


def test_splits_are_disjoint_normalised_and_follow_the_rule(corpus) -> None:
    base, _ = corpus
    train, held = list(read_split(base / "out", "train")), list(read_split(base / "out", "heldout"))
    assert not set(train) & set(held)
    assert all(not is_heldout(t, 0.2) for t in train) and all(is_heldout(t, 0.2) for t in held)
    assert all(normalise(t) == t and len(t) >= 32 for t in train + held)
    rows = [json.loads(line) for line in (base / "out" / "train.jsonl").read_text().splitlines()]
    assert rows[0]["id"].startswith("stdlib:") and {"id", "source", "text"} == set(rows[0])


def test_unavailable_sources_are_skipped_with_the_reason(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = _text_dir(tmp_path / "texts")
    cfg = CorpusConfig.from_params({"sources": [
        {"kind": "text-files", "root": str(texts)},
        {"kind": "text-files", "root": str(tmp_path / "absent")},
        {"kind": "hf-dataset", "path": "roneneldan/TinyStories"}], "heldout_fraction": 0.2, "min_chars": 32})
    prov = build_corpus(cfg, tmp_path / "out")
    used, absent, hub = prov["sources"]
    assert used["status"] == "used" and used["documents"] == 12
    assert absent["status"] == "skipped" and "is not a directory" in absent["reason"]
    assert hub["status"] == "skipped" and "HF_HUB_OFFLINE" in hub["reason"]


def test_bad_parameters_and_empty_corpora_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown corpus source kind 'web'"):
        CorpusConfig.from_params({"sources": [{"kind": "web"}]})
    with pytest.raises(ValueError, match="heldout_fraction"):
        CorpusConfig.from_params({"sources": [STDLIB_SUBSET], "heldout_fraction": 1.5})
    cfg = CorpusConfig.from_params({"sources": [{"kind": "text-files", "root": str(tmp_path)}]})
    with pytest.raises(RuntimeError, match="the corpus is empty"):
        build_corpus(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written


# -- tokenizer --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tokenizer_dir(corpus) -> Path:
    base, _ = corpus
    build_tokenizer(base / "out", base / "tok", vocab_size=400)
    return base / "tok"


@pytest.mark.parametrize("text", ["def f(x):\n    return x  # ok", "Ünïcödé — 漢字 ✓", "", "  leading spaces"])
def test_tokenizer_round_trips_text_with_bos_first(tokenizer_dir: Path, text: str) -> None:
    tok = load_tokenizer(tokenizer_dir)
    ids = tok.encode(text)
    assert ids[0] == BOS_ID == tok.bos_token_id and tok.bos_token == BOS
    assert BOS_ID not in ids[1:]
    assert tok.decode(ids, skip_special_tokens=True) == text
    assert tok.decode(ids).startswith(BOS)


def test_tokenizer_vocabulary_and_streams(tokenizer_dir: Path, corpus) -> None:
    base, _ = corpus
    stats = json.loads((tokenizer_dir / "stats.json").read_text())
    assert stats["vocab_size"] == 400 and len(load_tokenizer(tokenizer_dir)) == 400
    for split in ("train", "heldout"):
        stream = np.load(tokenizer_dir / f"{split}.npy")
        texts = list(read_split(base / "out", split))
        assert stream.dtype == np.uint16 and stream[0] == BOS_ID and stream.max() < 400
        assert int((stream == BOS_ID).sum()) == len(texts) == stats[split]["documents"]
        first_doc = stream[1:np.flatnonzero(stream == BOS_ID)[1]] if len(texts) > 1 else stream[1:]
        assert load_tokenizer(tokenizer_dir).decode(first_doc.tolist()) == texts[0]


def test_tokenizer_training_is_deterministic(corpus) -> None:
    base, _ = corpus
    a = train_bpe(read_split(base / "out", "train"), 350)
    b = train_bpe(read_split(base / "out", "train"), 350)
    assert a.to_str() == b.to_str()
    assert as_transformers(a).encode("json.dumps") == as_transformers(b).encode("json.dumps")


def test_tokenizer_rejects_a_vocabulary_it_cannot_store() -> None:
    with pytest.raises(ValueError, match="vocab_size must lie in"):
        train_bpe(["abc"], 70000)
