"""Where the tiny-LM tier's artefacts live and how each stage reads its own parameters.

Every stage of the tier (corpus -> tokenizer -> lm -> activations) is a pure function of its parameter
group in ``params.yaml`` (``tinylm.<profile>.<stage>``) and its input artefacts. Two profiles exist:
``full`` (the tier) and ``smoke`` (tiny sizes, seconds: CI's plumbing check). Artefacts of a profile live
under ``data/tinylm/<profile>/{corpus,tokenizer,lm,activations}``.

Environment:
    ``SAE_REPLICATION_TINYLM_PROFILE``: the profile that the readers (:func:`artifacts`, ``load_tinylm``,
    ``cached_activations``) use by default (``full``; CI sets ``smoke``).
    ``SAE_REPLICATION_TINYLM_DIR``: a different root for all profiles (default ``data/tinylm``).
"""

from __future__ import annotations

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


def add_stage_arguments(parser: Any) -> None:
    """The arguments every stage's ``main()`` takes: ``--profile``, ``--params``, ``--root``."""
    parser.add_argument("--profile", default="full", choices=PROFILES, help="parameter profile (default: full)")
    parser.add_argument("--params", default=str(PARAMS_FILE), help="parameter file (default: params.yaml)")
    parser.add_argument("--root", help="artefact root (default: $SAE_REPLICATION_TINYLM_DIR or data/tinylm)")


def stage_params(stage: str, profile: str, params_file: Path = PARAMS_FILE) -> dict[str, Any]:
    """The parameter group ``tinylm.<profile>.<stage>`` of ``params_file``."""
    import yaml

    if stage not in STAGES:
        raise ValueError(f"unknown tiny-LM stage {stage!r}; stages: {', '.join(STAGES)}")
    try:
        params = yaml.safe_load(Path(params_file).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{params_file} not found: the tiny-LM stages read their parameters from it "
                                f"(run from the repository root or pass --params)") from None
    try:
        return dict(params["tinylm"][profile][stage])
    except (KeyError, TypeError):
        raise KeyError(f"{params_file} has no group tinylm.{profile}.{stage}; profiles: {PROFILES}, "
                       f"stages: {STAGES}") from None


@contextmanager
def atomic_output_dir(path: Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success it replaces ``path``, on error it is removed.

    A stage's output directory therefore holds either the previous complete output or the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o755)  # mkdtemp makes 0700
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
