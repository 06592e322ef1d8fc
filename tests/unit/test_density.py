"""Instrument test of the density pass (:class:`replication.density.FireCounter`): its fire counts and kept
columns are exactly those of the naive ``fire_counts(sae.encode(x), mask)`` / ``sae.encode(x)[:, cols][mask]``.

Two kinds of input: integer-valued weights and inputs (every pre-activation exact in float32, whatever the
summation order, so ties with the threshold, negative thresholds, NaN and inf are tested on the decision
rule itself), and random floats at chunk sizes the pass uses (the pre-activations must be bit-identical to
``encode``'s, so no decision near a threshold flips).
"""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given

from replication.density import FireCounter
from replication.metrics import fire_counts

seeds = st.integers(min_value=0, max_value=2**31 - 1)


def _sae(kind: str, d_in: int, d_sae: int, g: torch.Generator, integer: bool, dtype=torch.float32,
         apply_b_dec_to_input: bool = False):
    from sae_lens import JumpReLUSAE, JumpReLUSAEConfig, StandardSAE, StandardSAEConfig, TopKSAE, TopKSAEConfig

    common = {"d_in": d_in, "d_sae": d_sae, "dtype": str(dtype).removeprefix("torch."),
              "apply_b_dec_to_input": apply_b_dec_to_input}
    sae = {"jumprelu": lambda: JumpReLUSAE(JumpReLUSAEConfig(**common)),
           "standard": lambda: StandardSAE(StandardSAEConfig(**common)),
           "topk": lambda: TopKSAE(TopKSAEConfig(k=3, **common))}[kind]()

    def draw(*shape: int) -> torch.Tensor:
        if integer:
            return torch.randint(-3, 4, shape, generator=g).to(dtype)
        return (torch.randn(*shape, generator=g) * 0.3).to(dtype)

    with torch.no_grad():
        sae.W_enc.copy_(draw(d_in, d_sae))
        sae.b_enc.copy_(draw(d_sae))
        sae.b_dec.copy_(draw(d_in))
        if kind == "jumprelu":
            sae.threshold.copy_(draw(d_sae))  # negative thresholds too: the gate is then ReLU's
    return sae


def _naive(sae, batches, columns):
    counts = torch.zeros(sae.cfg.d_sae, dtype=torch.int64)
    kept = []
    with torch.no_grad():
        for x, mask in batches:
            f = sae.encode(x)
            counts += fire_counts(f, mask)
            kept.append(f[:, columns][mask])
    return counts, kept


def _check(sae, batches, columns, max_chunk_elements: int, fast: bool, block_rows: int | None = None) -> None:
    blocks = {} if block_rows is None else {"block_elements": block_rows * sae.cfg.d_sae}
    counter = FireCounter(sae, columns, max_chunk_elements=max_chunk_elements, **blocks)
    assert counter.fast == fast
    kept = [counter.update(x, mask) for x, mask in batches]
    want_counts, want_kept = _naive(sae, batches, columns)
    assert torch.equal(counter.counts, want_counts)
    assert counter.n_tokens == sum(int(mask.sum()) for _, mask in batches)
    for got, want in zip(kept, want_kept, strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        assert torch.equal(got.isnan(), want.isnan())
        assert torch.equal(got.nan_to_num(), want.nan_to_num())  # bit-identical but for NaN payloads


def _batches(g: torch.Generator, d_in: int, sizes: list[int], integer: bool, specials: bool):
    out = []
    for n in sizes:
        if integer:
            x = torch.randint(-3, 4, (n, d_in), generator=g).float()
        else:
            x = torch.randn(n, d_in, generator=g)
        if specials and n:
            i = torch.randint(0, n, (3,), generator=g)
            x[i[0], 0], x[i[1], -1], x[i[2], 0] = float("nan"), float("inf"), -float("inf")
        out.append((x, torch.rand(n, generator=g) < 0.8))
    return out


@given(seed=seeds, kind=st.sampled_from(["jumprelu", "standard"]),
       d_in=st.integers(1, 12), d_sae=st.integers(1, 40),
       sizes=st.lists(st.integers(0, 50), min_size=1, max_size=3),
       chunk_rows=st.integers(1, 64), block_rows=st.integers(1, 20), specials=st.booleans(), b_dec=st.booleans())
def test_counts_identical_to_naive_on_exact_inputs(seed: int, kind: str, d_in: int, d_sae: int, sizes: list[int],
                                                     chunk_rows: int, block_rows: int, specials: bool,
                                                     b_dec: bool) -> None:
    """Integer-valued weights and inputs: ties with the threshold (``pre == thr`` is inactive), thresholds
    below zero, NaN and +-inf activations, masked tokens, many chunks and blocks, and empty batches."""
    g = torch.Generator().manual_seed(seed)
    sae = _sae(kind, d_in, d_sae, g, integer=True, apply_b_dec_to_input=b_dec)
    columns = torch.randint(0, d_sae, (int(torch.randint(0, 5, (), generator=g)),), generator=g).tolist()
    _check(sae, _batches(g, d_in, sizes, integer=True, specials=specials), columns, chunk_rows * d_sae, fast=True,
           block_rows=block_rows)


@pytest.mark.parametrize("kind", ["jumprelu", "standard"])
@pytest.mark.parametrize("chunk_rows", [4096, 700, 300])
@pytest.mark.parametrize("seed", [0, 1])
def test_counts_identical_to_naive_on_random_floats(kind: str, chunk_rows: int, seed: int) -> None:
    """Random float32 SAE and inputs (1000-token batches, 640 -> 2048, chunks of >= 250 rows in blocks of 128,
    the default's): the chunked
    pre-activations are encode's bit for bit (every column kept is compared), so no decision differs.
    (``addmm``'s fused bias rounds differently once the GEMM splits its 640-long sums: this test catches it.)"""
    g = torch.Generator().manual_seed(seed)
    sae = _sae(kind, 640, 2048, g, integer=False)
    with torch.no_grad():
        sae.W_enc.mul_(0.1)
        if kind == "jumprelu":
            sae.threshold.copy_(torch.rand(2048, generator=g))
    batches = _batches(g, 640, [1000, 1000], integer=False, specials=False)
    _check(sae, batches, list(range(2048)), chunk_rows * 2048, fast=True)


def test_float64_sae_takes_the_fast_path() -> None:
    g = torch.Generator().manual_seed(3)
    sae = _sae("jumprelu", 16, 256, g, integer=False, dtype=torch.float64)
    batches = [(x.double(), m) for x, m in _batches(g, 16, [300], integer=False, specials=False)]
    _check(sae, batches, [1, 2], 100 * 256, fast=True)


def test_other_saes_go_through_encode() -> None:
    """TopK (not elementwise), a hooked SAE, bfloat16 and a non-finite threshold: the definition's path."""
    g = torch.Generator().manual_seed(4)
    topk = _sae("topk", 8, 32, g, integer=False)
    _check(topk, _batches(g, 8, [40, 17], integer=False, specials=False), [3], 64, fast=False)

    hooked = _sae("jumprelu", 8, 32, g, integer=False)
    hooked.hook_sae_acts_post.add_hook(lambda acts, hook: acts * (acts > 0.5))
    _check(hooked, _batches(g, 8, [40], integer=False, specials=False), [3], 64, fast=False)
    hooked.reset_hooks()
    assert FireCounter(hooked).fast

    bf16 = _sae("jumprelu", 8, 32, g, integer=False, dtype=torch.bfloat16)
    _check(bf16, [(x.bfloat16(), m) for x, m in _batches(g, 8, [300], integer=False, specials=False)], [],
           64, fast=False)

    inf_threshold = _sae("jumprelu", 8, 32, g, integer=False)
    with torch.no_grad():
        inf_threshold.threshold[0] = float("inf")
    _check(inf_threshold, _batches(g, 8, [40], integer=False, specials=True), [0], 64, fast=False)


def test_mask_must_be_a_bool_per_token() -> None:
    sae = _sae("jumprelu", 4, 8, torch.Generator().manual_seed(5), integer=False)
    with pytest.raises(ValueError, match="mask"):
        FireCounter(sae).update(torch.randn(6, 4), torch.ones(5, dtype=torch.bool))
