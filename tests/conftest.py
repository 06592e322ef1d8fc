"""Test configuration: hypothesis profiles, thread count, the --target option and the session runner.

Hypothesis profile: ``ci`` (derandomised, no example database, no deadline) when ``CI`` is set or
``HYPOTHESIS_PROFILE=ci``; ``dev`` otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# Two cores: one torch thread per process trains tiny models ~10x faster than two threads fighting
# (measured on this machine kind); override with SAE_REPLICATION_THREADS.
torch.set_num_threads(int(os.environ.get("SAE_REPLICATION_THREADS", "1")))

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sae-replication")
    group.addoption("--target", action="append", default=[],
                    help="run claim tests only on this target (repeatable); `sae-replicate targets` lists them")
    group.addoption("--results-dir", default=str(REPO / "results"),
                    help="where claim tests write their result records (default: results/)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = set(config.getoption("--target"))
    if not wanted:
        return
    from replication.papers import registry as load_all

    known = load_all().targets
    unknown = wanted - set(known)
    if unknown:
        raise pytest.UsageError(f"unknown --target {sorted(unknown)}; known targets: {', '.join(sorted(known))}")
    keep, drop = [], []
    for item in items:
        target = getattr(item, "callspec", None) and item.callspec.params.get("target")
        if "claim" in item.keywords and getattr(target, "name", None) not in wanted:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def runner(pytestconfig: pytest.Config):
    """One runner per test session: each (analysis, target, seed) is measured once and shared."""
    from replication.runner import Runner

    return Runner(results_dir=Path(pytestconfig.getoption("--results-dir")))
