"""Instrument tests of the rule for which token positions count (replication/lm/hooks.py)."""

from __future__ import annotations

import pytest
import torch

from replication.lm.hooks import counted_positions, hook_components


def test_special_tokens_and_the_prepended_bos_do_not_count() -> None:
    tokens = torch.tensor([[0, 5, 6, 0, 7], [9, 5, 1, 1, 8]])  # 0: BOS, 1: pad
    expected = torch.tensor([[False, True, True, False, True], [True, True, False, False, True]])
    torch.testing.assert_close(counted_positions(tokens, (0, 1)), expected)
    expected[:, 0] = False
    torch.testing.assert_close(counted_positions(tokens, (0, 1), drop_first=True), expected)
    assert bool(counted_positions(tokens, ()).all())  # nothing excluded: every position counts


def test_hook_expressions() -> None:
    assert hook_components("blocks.1.hook_resid_pre + blocks.1.hook_attn_out") == (
        "blocks.1.hook_resid_pre", "blocks.1.hook_attn_out")
    with pytest.raises(ValueError, match="malformed hook expression"):
        hook_components("blocks.1.hook_resid_pre+")
