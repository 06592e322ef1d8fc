"""The composition root: the papers this suite replicates, and the registry built from them.

Each paper is a package ``replication.papers.<paper>`` with the same files (``analysis``, one module per tier
it has, ``expectations``, ``figures``) exposing ``ANALYSES`` and ``EXPECTATIONS``; its report figures are in
``<paper>.figures.FIGURES``. Adding a paper is one line here (and its claims in ``claims/``).
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

from replication.targets import AnalysisRegistry

PAPERS = ("topk", "antipodal", "bimodality", "sagsae", "cross")


def _paper(name: str) -> ModuleType:
    return importlib.import_module(f"replication.papers.{name}")


@cache
def registry() -> AnalysisRegistry:
    """Every paper's analyses, targets and expectations, registered once."""
    reg = AnalysisRegistry()
    for name in PAPERS:
        paper = _paper(name)
        for analysis in paper.ANALYSES:
            reg.register(analysis)
    for name in PAPERS:
        for expectation in _paper(name).EXPECTATIONS:
            if expectation.target not in reg.targets:
                raise ValueError(f"paper {name}: an expectation names target {expectation.target!r}, which no "
                                 f"analysis registers")
            reg.expect(expectation)
    return reg


def figure_makers() -> dict[str, tuple]:
    """Paper -> its report figures (``replication.papers.<paper>.figures.FIGURES``)."""
    return {name: importlib.import_module(f"replication.papers.{name}.figures").FIGURES for name in PAPERS}
