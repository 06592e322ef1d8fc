"""Build the tiny LM's text corpus from pluggable sources, deterministically, with a held-out split.

Sources (one ``{"kind": ..., **options}`` mapping each, in ``params.yaml``):

- ``stdlib-docstrings``: the docstrings of Python's standard library, parsed with :mod:`ast` from the
  source files under ``sysconfig.get_paths()["stdlib"]`` (tests and site-packages excluded). Options:
  ``include`` (glob patterns relative to the stdlib root; default every ``*.py``). One document per module
  file: each documented module, class and function in source order as ``qualname`` then its cleaned
  docstring (:func:`inspect.cleandoc`).
- ``text-files``: plain-text files of a local directory, e.g. ``/usr/share/doc`` (the ``*.txt`` and
  ``copyright`` files every Debian package installs) or any directory of your own. Options: ``root``,
  ``patterns`` (globs), ``max_file_bytes``. One document per file; files that are not UTF-8 or hold a NUL
  byte are skipped and counted.
- ``hf-dataset``: a dataset streamed through ``datasets`` when the Hugging Face hub is reachable. Options:
  ``path``, ``name``, ``split``, ``text_field``, ``max_documents``. Offline (``HF_HUB_OFFLINE=1`` or no
  connection) it is skipped with the reason recorded in the provenance, and the build goes on.

A corpus can be **pinned** (``pin``: a JSON file, relative to the repository root, written by
``python -m replication.tinylm corpus --profile P --pin``): the list of its documents as
``[source index, id, sha256 of the normalised text]``. A pinned build keeps exactly those documents, ignores
any other a machine has (e.g. the docs of a package installed since), and stops with one line naming the first
pinned document that is missing or whose text differs: so every machine that builds it gets the same bytes, or
none.

Every document is normalised (Unicode NFC, ``\\n`` line ends, control characters other than tab and
newline removed, trailing spaces stripped, runs of blank lines cut to one), dropped if shorter than
``min_chars``, and exact duplicates (same normalised text) are kept once, first in source order, *before*
the split, so no held-out document also appears in training. A document is held out iff
``sha256(text) / 2**256 < heldout_fraction``: the split depends only on the document, not on the order or
on what else is in the corpus.

Output (written atomically into ``out``): ``train.jsonl`` and ``heldout.jsonl`` (one ``{"id", "source",
"text"}`` per line, in source order) and ``provenance.json`` (per source: documents and bytes; totals; the
sha256 of each split file; the pin and its sha256). What depends on the machine rather than on the text (files
read and skipped, documents ignored as unpinned, duplicates dropped, the Python that read the standard library)
goes to ``<profile>/provenance/corpus.json``, which DVC does not hash. Nothing in the output depends on time
or on files outside the corpus, so a rebuild of the same text is byte-identical.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import hashlib
import inspect
import json
import os
import platform
import re
import socket
import sysconfig
import time
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replication.io import write_json_atomic
from replication.tinylm.config import (
    PARAMS_FILE,
    StageInputError,
    atomic_output_dir,
    stage_provenance_path,
)

_STDLIB_EXCLUDED = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Document:
    id: str
    """``<source kind>:<path or key>``, unique within a source."""
    source: int
    """Index of the source in the corpus parameters."""
    text: str


@dataclass
class SourceStats:
    kind: str
    options: dict[str, Any]
    status: str = "used"
    """``used``, or ``skipped`` (then ``reason`` says why)."""
    reason: str = ""
    files_read: int = 0
    files_skipped: int = 0
    documents: int = 0
    bytes: int = 0
    skipped_examples: list[str] = field(default_factory=list)
    unpinned_ignored: int = 0
    """Documents this machine has that the pin does not list (a pinned build ignores them)."""
    unpinned_examples: list[str] = field(default_factory=list)

    def ignore_unpinned(self, doc_id: str) -> None:
        self.unpinned_ignored += 1
        if len(self.unpinned_examples) < 5:
            self.unpinned_examples.append(doc_id)

    def skip_file(self, name: str) -> None:
        self.files_skipped += 1
        if len(self.skipped_examples) < 5:
            self.skipped_examples.append(name)


class SourceUnavailable(RuntimeError):
    """A source that cannot be read on this machine (e.g. a hub dataset offline): skipped, with the reason."""


#: what the per-source stats hold that depends on the machine, not on the text (not hashed by DVC)
_MACHINE_FIELDS = ("status", "reason", "files_read", "files_skipped", "skipped_examples", "unpinned_ignored",
                   "unpinned_examples")


def normalise(text: str) -> str:
    """NFC, ``\\n`` line ends, no control characters but tab/newline, no trailing spaces, <= 1 blank line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _TRAILING.sub("\n", text + "\n")
    return _BLANK_RUNS.sub("\n\n", text).strip()


def is_heldout(text: str, fraction: float) -> bool:
    """The split rule: ``sha256(text)`` read as a fraction of ``2**256`` is below ``fraction``."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big") < fraction * 2**256


# -- sources ----------------------------------------------------------------------------------------------

def _matches(rel: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(Path(rel).name, p) for p in patterns)


def _sorted_files(root: Path, patterns: Sequence[str], excluded: frozenset[str] = frozenset()) -> list[Path]:
    """Regular files under ``root`` matching a pattern (on the relative path or the name), sorted by path."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in excluded)
        for name in filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_file() and not path.is_symlink() and _matches(rel, patterns):
                found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def _docstrings(tree: ast.Module, module: str) -> Iterator[str]:
    """``qualname\\ndocstring`` for the module and every documented class/function, in source order."""

    def visit(node: ast.AST, prefix: str) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}.{child.name}"
                doc = ast.get_docstring(child, clean=False)
                if doc:
                    yield f"{name}\n{inspect.cleandoc(doc)}"
                yield from visit(child, name)

    doc = ast.get_docstring(tree, clean=False)
    if doc:
        yield f"{module}\n{inspect.cleandoc(doc)}"
    yield from visit(tree, module)


def stdlib_docstrings(stats: SourceStats, include: Sequence[str] = ("*.py",)) -> Iterator[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in _sorted_files(root, include, _STDLIB_EXCLUDED):
        rel = path.relative_to(root).as_posix()
        if not rel.endswith(".py"):
            continue
        try:
            tree = ast.parse(path.read_bytes(), filename=rel)
        except (SyntaxError, ValueError, UnicodeDecodeError):
            stats.skip_file(rel)
            continue
        stats.files_read += 1
        module = rel[:-3].replace("/", ".").removesuffix(".__init__")
        text = "\n\n".join(_docstrings(tree, module))
        if text:
            yield f"stdlib:{rel}", text


def text_files(stats: SourceStats, root: str, patterns: Sequence[str] = ("*.txt",),
               max_file_bytes: int = 1_000_000) -> Iterator[tuple[str, str]]:
    base = Path(root)
    if not base.is_dir():
        raise SourceUnavailable(f"{root} is not a directory on this machine")
    for path in _sorted_files(base, patterns):
        rel = path.relative_to(base).as_posix()
        data = path.read_bytes()
        if len(data) > max_file_bytes or b"\x00" in data:
            stats.skip_file(rel)
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            stats.skip_file(rel)
            continue
        stats.files_read += 1
        yield f"{root.rstrip('/')}/{rel}", text


def hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> str | None:
    """``None`` if the Hugging Face hub can be reached, else why not."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0") or os.environ.get("HF_DATASETS_OFFLINE", "0") \
            not in ("", "0"):
        return "HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as err:
        return f"cannot reach {host}:443 ({err})"
    return None


def hf_dataset(stats: SourceStats, path: str, split: str = "train", name: str | None = None,
               text_field: str = "text", max_documents: int = 10_000) -> Iterator[tuple[str, str]]:
    blocked = hub_reachable()
    if blocked is not None:
        raise SourceUnavailable(f"hub dataset {path!r} skipped: {blocked}")
    import datasets

    stream = datasets.load_dataset(path, name, split=split, streaming=True)
    for i, row in enumerate(stream):  # streamed in the dataset's own order: deterministic for a revision
        if i >= max_documents:
            break
        stats.files_read += 1
        yield f"{path}/{split}/{i}", str(row[text_field])


_SOURCES = {"stdlib-docstrings": stdlib_docstrings, "text-files": text_files, "hf-dataset": hf_dataset}


# -- the build --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CorpusConfig:
    sources: tuple[Mapping[str, Any], ...]
    heldout_fraction: float = 0.05
    min_chars: int = 64
    pin: Path | None = None
    """The pin file (absolute; ``from_params`` resolves a relative one against the repository root)."""

    @staticmethod
    def from_params(params: Mapping[str, Any]) -> CorpusConfig:
        unknown = set(params) - {"sources", "heldout_fraction", "min_chars", "pin"}
        if unknown:
            raise ValueError(f"unknown corpus parameters {sorted(unknown)}")
        pin = params.get("pin")
        cfg = CorpusConfig(tuple(dict(s) for s in params["sources"]),
                           float(params.get("heldout_fraction", 0.05)), int(params.get("min_chars", 64)),
                           None if pin is None else _resolve(pin))
        for source in cfg.sources:
            if source.get("kind") not in _SOURCES:
                raise ValueError(f"unknown corpus source kind {source.get('kind')!r}; known: {sorted(_SOURCES)}")
        if not 0 < cfg.heldout_fraction < 1:
            raise ValueError(f"heldout_fraction must lie in (0, 1), got {cfg.heldout_fraction}")
        return cfg

    def identity(self) -> dict[str, Any]:
        """What a pin is made for: the sources and the length cut (the split does not choose documents)."""
        return {"sources": [dict(s) for s in self.sources], "min_chars": self.min_chars}


def _resolve(pin: str | Path) -> Path:
    path = Path(pin)
    return path if path.is_absolute() else PARAMS_FILE.parent / path


class CorpusPinError(StageInputError):
    """This machine's text is not the pinned corpus (a pinned document missing or different, or a pin made for
    other parameters): one line, exit status 2, nothing written."""


_FIX = ("the machine lacks text the committed tiny LM was trained on: install what provides it, or pin this "
        "machine's own corpus with the corpus stage's --pin (`python -m replication.tinylm corpus --profile P --pin`; "
        "its tiny LM and results will then differ from the committed report)")


@dataclass(frozen=True)
class Pin:
    """A pinned corpus: ``(source index, id) -> sha256`` of each document's normalised text, in corpus order."""

    path: Path
    documents: dict[tuple[int, str], str]
    sha256: str

    @staticmethod
    def read(path: Path, config: CorpusConfig) -> Pin:
        if not path.is_file():
            raise CorpusPinError(f"corpus pin {path} is missing: restore it from git, or write one with --pin")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            documents = {(int(i), str(d)): str(h) for i, d, h in data["documents"]}
            identity = data["made_for"]
        except (ValueError, KeyError, TypeError) as err:
            raise CorpusPinError(f"corpus pin {path} cannot be read ({err}): restore it from git, or write a new "
                                 "one with --pin") from err
        if identity != config.identity():
            raise CorpusPinError(f"corpus pin {path} was made for other corpus parameters ({identity}); the "
                                 f"parameters now are {config.identity()}: write a new pin with --pin")
        return Pin(path, documents, _sha256(path))


def write_pin(path: Path, config: CorpusConfig, documents: Sequence[Document]) -> None:
    """Pin ``documents`` (a built corpus, in order) for ``config`` into ``path`` (atomically)."""
    rows = [[d.source, d.id, hashlib.sha256(d.text.encode()).hexdigest()] for d in documents]
    write_json_atomic(Path(path), {"about": "the tiny LM's corpus, pinned: replication/tinylm/corpus.py",
                                   "made_for": config.identity(), "documents": rows})


def collect(config: CorpusConfig, pin: Pin | None = None) -> tuple[list[Document], list[SourceStats], int]:
    """Every normalised, deduplicated document of the sources in order, their stats, duplicates dropped.

    With a ``pin``, only the pinned documents (the others are counted as ignored), each checked against its
    pinned hash; a pinned document that is missing or different raises :class:`CorpusPinError`."""
    documents: list[Document] = []
    seen: set[str] = set()
    all_stats = []
    duplicates = 0
    for index, source in enumerate(config.sources):
        options = {k: v for k, v in source.items() if k != "kind"}
        stats = SourceStats(source["kind"], options)
        all_stats.append(stats)
        try:
            for doc_id, raw in _SOURCES[source["kind"]](stats, **options):
                if pin is not None and (index, doc_id) not in pin.documents:
                    stats.ignore_unpinned(doc_id)
                    continue
                text = normalise(raw)
                if len(text) < config.min_chars:
                    continue
                digest = hashlib.sha256(text.encode()).hexdigest()
                if pin is not None and pin.documents[(index, doc_id)] != digest:
                    raise CorpusPinError(f"corpus: {doc_id} (source {index}) differs from its text in the pin "
                                         f"{pin.path}: {_FIX}")
                if digest in seen:
                    duplicates += 1
                    continue
                seen.add(digest)
                documents.append(Document(doc_id, index, text))
                stats.documents += 1
                stats.bytes += len(text.encode())
        except SourceUnavailable as err:
            stats.status, stats.reason = "skipped", str(err)
            print(f"corpus: source {index} ({source['kind']}) skipped: {err}")
    if pin is not None:
        kept = {(d.source, d.id) for d in documents}
        missing = [key for key in pin.documents if key not in kept]
        if missing:
            index, doc_id = missing[0]
            raise CorpusPinError(f"corpus: {len(missing)} of the {len(pin.documents)} pinned documents are not on "
                                 f"this machine, e.g. {doc_id} (source {index}; pin {pin.path}): {_FIX}")
    return documents, all_stats, duplicates


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_corpus(config: CorpusConfig, out: Path, *, write_pin_to: Path | None = None) -> dict[str, Any]:
    """Build the corpus into ``out`` (atomically); returns its provenance: ``provenance.json``'s fields (what the
    text determines) merged with the machine's (``<profile>/provenance/corpus.json``: files read and skipped,
    documents ignored as unpinned, duplicates dropped, the Python).

    ``config.pin`` set: a pinned build (:func:`collect`). ``write_pin_to``: build from whatever this machine has
    (any pin ignored) and pin the result there first."""
    pin = None if write_pin_to is not None or config.pin is None else Pin.read(config.pin, config)
    documents, stats, duplicates = collect(config, pin)
    if not documents:
        raise RuntimeError("the corpus is empty: every source was skipped or yielded nothing; "
                           f"sources: {[(s.kind, s.status, s.reason) for s in stats]}")
    splits: dict[str, list[Document]] = {"train": [], "heldout": []}
    for doc in documents:
        splits["heldout" if is_heldout(doc.text, config.heldout_fraction) else "train"].append(doc)
    if not splits["train"] or not splits["heldout"]:
        raise RuntimeError(f"a split is empty ({len(splits['train'])} train, {len(splits['heldout'])} held-out "
                           f"documents): add sources or change heldout_fraction={config.heldout_fraction}")
    if write_pin_to is not None:
        write_pin(write_pin_to, config, documents)
        pin = Pin.read(Path(write_pin_to), config)
    with atomic_output_dir(Path(out)) as tmp:
        files = {}
        for split, docs in splits.items():
            path = tmp / f"{split}.jsonl"
            with open(path, "w", encoding="utf-8") as fh:
                for doc in docs:
                    fh.write(json.dumps({"id": doc.id, "source": doc.source, "text": doc.text},
                                        ensure_ascii=False) + "\n")
            files[split] = {"file": path.name, "documents": len(docs),
                            "bytes": sum(len(d.text.encode()) for d in docs), "sha256": _sha256(path)}
        provenance = {
            "sources": [{k: v for k, v in vars(s).items() if k not in _MACHINE_FIELDS} for s in stats],
            "documents": len(documents),
            "bytes": sum(len(d.text.encode()) for d in documents),
            "splits": files,
            "heldout_fraction": config.heldout_fraction,
            "heldout_rule": "sha256(normalised text) / 2**256 < heldout_fraction",
            "min_chars": config.min_chars,
            "pin": None if pin is None else {"file": _shown(pin.path), "sha256": pin.sha256},
        }
        write_json_atomic(tmp / "provenance.json", provenance)
    machine = {
        "sources": [{k: v for k, v in vars(s).items() if k in _MACHINE_FIELDS} for s in stats],
        "duplicates_dropped": duplicates,
        "python": platform.python_version(),
        "stdlib": sysconfig.get_paths()["stdlib"],
    }
    write_json_atomic(stage_provenance_path(Path(out)), machine)
    return {**provenance, **machine,
            "sources": [{**a, **b} for a, b in zip(provenance["sources"], machine["sources"])]}


def _shown(path: Path) -> str:
    """A pin's path as the provenance records it: relative to the repository root when inside it."""
    try:
        return Path(path).resolve().relative_to(PARAMS_FILE.parent.resolve()).as_posix()
    except ValueError:
        return str(path)


def read_split(corpus_dir: Path, split: str) -> Iterator[str]:
    """The texts of one split (``train`` or ``heldout``) of a built corpus, in order."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    path = Path(corpus_dir) / f"{split}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: build the corpus first (`dvc repro tinylm-corpus@full`)")
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)["text"]


def main(argv: Sequence[str] | None = None) -> int:
    from replication.tinylm.config import add_stage_arguments, artifacts, stage_params

    parser = argparse.ArgumentParser(description="Build the tiny LM's corpus (stage `tinylm-corpus`).")
    add_stage_arguments(parser)
    parser.add_argument("--out", help="default: data/tinylm/<profile>/corpus")
    parser.add_argument("--pin", action="store_true",
                        help="build from the text this machine has and pin it (to the profile's `pin` file)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    config = CorpusConfig.from_params(stage_params("corpus", args.profile, Path(args.params)))
    if args.pin and config.pin is None:
        raise CorpusPinError(f"--pin: tinylm.{args.profile}.corpus has no `pin` file to write; add one "
                             f"(e.g. pin: data/tinylm/pins/{args.profile}.json) to {args.params}")
    out = Path(args.out) if args.out else artifacts(args.profile, args.root).corpus
    prov = build_corpus(config, out, write_pin_to=config.pin if args.pin else None)
    for s in prov["sources"]:
        print(f"corpus: {s['kind']} {s['options']}: {s['status']} {s['reason']} files {s['files_read']} "
              f"(skipped {s['files_skipped']}), documents {s['documents']}, {s['bytes'] / 1e6:.2f} MB")
    for split, f in prov["splits"].items():
        print(f"corpus: {split}: {f['documents']} documents, {f['bytes'] / 1e6:.2f} MB, sha256 {f['sha256'][:16]}")
    if prov["pin"] is not None:
        ignored = sum(s["unpinned_ignored"] for s in prov["sources"])
        print(f"corpus: pinned by {prov['pin']['file']}: {prov['documents']} documents, {ignored} unpinned ignored")
    print(f"corpus: {prov['duplicates_dropped']} duplicates dropped; wrote {out} in "
          f"{time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    from replication.tinylm.config import run_stage

    raise SystemExit(run_stage(main))
