"""Where the tiny-LM tier's artefacts live and how each stage reads its own parameters.

Every stage of the tier (corpus -> tokenizer -> lm -> activations) is a pure function of its parameter
group in ``params.yaml`` (``tinylm.<profile>.<stage>``) and its input artefacts. Two profiles exist:
``full`` (the tier) and ``smoke`` (tiny sizes, seconds: CI's plumbing check). Artefacts of a profile live
under ``data/tinylm/<profile>/{corpus,tokenizer,lm,activations}``; every file there is content-deterministic
(same inputs, code and machine kind: same bytes), and what varies from run to run (the LM's training wall
time) goes to ``data/tinylm/<profile>/provenance/<stage>.json`` (:func:`stage_provenance_path`).

Environment:
    ``SAE_REPLICATION_TINYLM_PROFILE``: the profile that the readers (:func:`artifacts`, ``load_tinylm``,
    ``cached_activations``) use by default (``full``; CI sets ``smoke``).
    ``SAE_REPLICATION_TINYLM_DIR``: a different root for all profiles (default ``data/tinylm``).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PARAMS_FILE = REPO / "params.yaml"
PROFILES = ("full", "smoke")
STAGES = ("corpus", "tokenizer", "lm", "activations", "saes")


def default_profile() -> str:
    name = os.environ.get("SAE_REPLICATION_TINYLM_PROFILE", "full")
    if name not in PROFILES:
        raise ValueError(f"SAE_REPLICATION_TINYLM_PROFILE={name!r} is not a profile; use one of {PROFILES}")
    return name


def data_root() -> Path:
    return Path(os.environ.get("SAE_REPLICATION_TINYLM_DIR", REPO / "data" / "tinylm"))


@dataclass(frozen=True)
class Artifacts:
    """The directories of one profile's artefacts, in pipeline order."""

    root: Path

    @property
    def corpus(self) -> Path:
        return self.root / "corpus"

    @property
    def tokenizer(self) -> Path:
        return self.root / "tokenizer"

    @property
    def lm(self) -> Path:
        return self.root / "lm"

    @property
    def activations(self) -> Path:
        return self.root / "activations"


def artifacts(profile: str | None = None, root: Path | str | None = None) -> Artifacts:
    """The artefact directories of ``profile`` (default: ``$SAE_REPLICATION_TINYLM_PROFILE`` or ``full``)
    under ``root`` (default: ``$SAE_REPLICATION_TINYLM_DIR`` or ``data/tinylm``)."""
    name = profile or default_profile()
    if name not in PROFILES:
        raise ValueError(f"unknown tiny-LM profile {name!r}; profiles: {', '.join(PROFILES)}")
    return Artifacts(Path(root if root is not None else data_root()) / name)


def stage_provenance_path(stage_dir: Path) -> Path:
    """Where a stage writes what varies from run to run (wall time, when): ``<profile>/provenance/<stage>.json``,
    beside its output directory, so that DVC, which hashes the directory, never sees it (pure)."""
    stage_dir = Path(stage_dir)
    return stage_dir.parent / "provenance" / f"{stage_dir.name}.json"


def add_stage_arguments(parser: Any) -> None:
    """The arguments every stage's ``main()`` takes: ``--profile``, ``--params``, ``--root``."""
    parser.add_argument("--profile", default="full", choices=PROFILES, help="parameter profile (default: full)")
    parser.add_argument("--params", default=str(PARAMS_FILE), help="parameter file (default: params.yaml)")
    parser.add_argument("--root", help="artefact root (default: $SAE_REPLICATION_TINYLM_DIR or data/tinylm)")


class ParamsError(ValueError):
    """A parameter file that cannot be used: the message names the file and ``tinylm.<profile>.<stage>.<key>``."""


class StageInputError(ValueError):
    """An input a stage cannot use (e.g. a machine whose text is not the pinned corpus): the message names it
    and the fix."""


@dataclass(frozen=True)
class Key:
    """One parameter's type and range: ``kind`` is ``int``, ``float`` (an int is accepted), ``str``,
    ``strs`` (a list of strings), ``hooks`` (a non-empty name -> hook mapping) or ``sources``."""

    kind: str
    required: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()


def _n(low: float, **kw: Any) -> Key:
    return Key("int", low=low, **kw)


def _f(low: float | None = None, high: float | None = None, **kw: Any) -> Key:
    return Key("float", low=low, high=high, **kw)


SCHEMA: dict[str, dict[str, Key]] = {
    "corpus": {"sources": Key("sources", required=True), "heldout_fraction": _f(0, 1, low_open=True),
               "min_chars": _n(0), "pin": Key("str")},
    "tokenizer": {"vocab_size": _n(2, required=True), "min_frequency": _n(1)},
    "lm": {"seed": _n(0), "n_layers": _n(1, required=True), "d_model": _n(1, required=True),
           "n_heads": _n(1, required=True), "n_ctx": _n(2, required=True), "steps": _n(1, required=True),
           "batch_size": _n(1, required=True), "lr": _f(0, low_open=True, required=True),
           "lr_warmup_steps": _n(0), "lr_final_fraction": _f(0, 1), "weight_decay": _f(0),
           "grad_clip": _f(0, low_open=True), "eval_every": _n(1), "eval_windows": _n(1), "threads": _n(1)},
    "activations": {"hooks": Key("hooks", required=True), "train_tokens": _n(1, required=True),
                    "heldout_tokens": _n(1, required=True), "batch_size": _n(1),
                    "dtype": Key("str", choices=("float16", "float32"))},
    "saes": {"budget_fraction": _f(0, 1, low_open=True)},
}
#: the options of each corpus source kind (``replication/tinylm/corpus.py``'s source functions)
SOURCE_SCHEMA: dict[str, dict[str, Key]] = {
    "stdlib-docstrings": {"include": Key("strs")},
    "text-files": {"root": Key("str", required=True), "patterns": Key("strs"), "max_file_bytes": _n(1)},
    "hf-dataset": {"path": Key("str", required=True), "split": Key("str"), "name": Key("str"),
                   "text_field": Key("str"), "max_documents": _n(1)},
}


def _describe(value: Any) -> str:
    return f"the string {value!r}" if isinstance(value, str) else f"{value!r} ({type(value).__name__})"


def key_problem(key: Key, value: Any) -> str | None:
    """Why ``value`` does not fit ``key``, or ``None`` (pure)."""
    if key.kind in ("int", "float"):
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if key.kind == "int" and not is_int:
            return f"must be a whole number, got {_describe(value)}"
        if key.kind == "float" and not (is_int or isinstance(value, float)):
            hint = " (YAML reads 3e-3 as a string: write 3.0e-3)" if isinstance(value, str) else ""
            return f"must be a number, got {_describe(value)}{hint}"
        if not math.isfinite(value):
            return f"must be finite, got {value}"
        if key.low is not None and (value <= key.low if key.low_open else value < key.low):
            return f"must be {'>' if key.low_open else '>='} {key.low:g}, got {value}"
        if key.high is not None and value > key.high:
            return f"must be <= {key.high:g}, got {value}"
        return None
    if key.kind == "str":
        if not isinstance(value, str):
            return f"must be a string, got {_describe(value)}"
        if key.choices and value not in key.choices:
            return f"must be one of {', '.join(key.choices)}, got {value!r}"
        return None
    if key.kind == "strs":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"must be a list of strings (e.g. [\"*.py\"]), got {_describe(value)}"
        return None
    if key.kind == "hooks":
        if not isinstance(value, dict) or not value or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return f"must map a name to a hook (name: blocks.L.hook_...), got {_describe(value)}"
        return None
    raise ValueError(f"unknown parameter kind {key.kind!r}")


def group_problems(group: Any, schema: dict[str, Key], where: str) -> list[str]:
    """Every missing, unknown or ill-typed key of one parameter group, as ``<where>.<key>: why`` (pure)."""
    if not isinstance(group, dict):
        return [f"{where} must be a mapping of keys, got {_describe(group)}"]
    problems = [f"{where}.{k} is missing" for k, key in schema.items() if key.required and k not in group]
    problems += [f"{where}.{k} is not a parameter; known: {', '.join(schema)}" for k in group if k not in schema]
    for name, value in group.items():
        if name not in schema:
            continue
        if schema[name].kind == "sources":
            problems += _sources_problems(value, f"{where}.{name}")
        elif (why := key_problem(schema[name], value)) is not None:
            problems.append(f"{where}.{name} {why}")
    return problems


def _sources_problems(sources: Any, where: str) -> list[str]:
    if not isinstance(sources, list) or not sources:
        return [f"{where} must be a non-empty list of sources ({{kind: ..., ...}}), got {_describe(sources)}"]
    problems = []
    for i, source in enumerate(sources):
        kind = source.get("kind") if isinstance(source, dict) else None
        if kind not in SOURCE_SCHEMA:
            problems.append(f"{where}[{i}].kind must be one of {', '.join(SOURCE_SCHEMA)}, got {_describe(kind)}")
            continue
        options = {k: v for k, v in source.items() if k != "kind"}
        problems += group_problems(options, SOURCE_SCHEMA[kind], f"{where}[{i}]")
    return problems


def _read_yaml(params_file: Path) -> Any:
    import yaml

    try:
        text = Path(params_file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{params_file} not found: the tiny-LM stages read their parameters from it "
                          f"(run from the repository root or pass --params)") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ParamsError(f"{params_file} cannot be read: {err}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ParamsError(f"{params_file}: not valid YAML{where}: {problem}") from None


def stage_params(stage: str, profile: str, params_file: Path = PARAMS_FILE) -> dict[str, Any]:
    """The parameter group ``tinylm.<profile>.<stage>`` of ``params_file``, every key type- and range-checked
    (:data:`SCHEMA`); raises :class:`ParamsError` naming the file and each bad key."""
    if stage not in STAGES:
        raise ValueError(f"unknown tiny-LM stage {stage!r}; stages: {', '.join(STAGES)}")
    params = _read_yaml(params_file)
    try:
        group = params["tinylm"][profile][stage]
    except (KeyError, TypeError):
        raise ParamsError(f"{params_file} has no group tinylm.{profile}.{stage}; profiles: {', '.join(PROFILES)}, "
                          f"stages: {', '.join(STAGES)}") from None
    problems = group_problems(group, SCHEMA[stage], f"tinylm.{profile}.{stage}")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ParamsError(f"{params_file}: {problems[0]}{more}")
    return dict(group)


def run_stage(main: Any, argv: Any = None) -> int:
    """Run a stage's ``main``; a :class:`ParamsError` or :class:`StageInputError` becomes one line on stderr and
    exit status 2."""
    import sys

    try:
        return int(main(argv) or 0)
    except (ParamsError, StageInputError) as err:
        print(f"tinylm: {err}", file=sys.stderr)
        return 2


@contextmanager
def atomic_output_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it replaces ``path``, on error it is removed.

    A stage's output directory therefore holds either the previous complete output or the new one, every
    file and folder in it with the usual mode (:func:`replication.io.give_usual_modes`).
    """
    from replication.io import give_usual_modes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        give_usual_modes(tmp)  # mkdtemp makes 0700, safetensors writes 0600
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
