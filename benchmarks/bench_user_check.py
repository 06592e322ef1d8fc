"""Wall time and peak memory of `sae-replicate check` on an SAE of a real width with random weights.

Not a test. Writes a GPT-2-style model of d_model 2304 (Gemma 2 2B's width; 2 layers, a vocabulary of 2 d_model, random weights) and a
sae-lens JumpReLU SAE of Gemma Scope 16k's shape (d_in 2304, d_sae 16,384; random weights, thresholds at
each latent's 99th percentile so that latents are sparse), then times ``check`` on them in this process and
prints its wall time, CPU time and the process's peak resident memory. On a GPU machine, ``--device cuda``.

Usage::

    python -m benchmarks.bench_user_check --tokens 4096            # from the repository root
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch


def build(out: Path, d_model: int, d_sae: int) -> tuple[Path, Path, Path]:
    import importlib.util

    from sae_lens.registry import get_sae_class
    from sae_lens.saes.sae import SAEMetadata
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    spec = importlib.util.spec_from_file_location("example_sae", Path(__file__).parents[1] / "scripts" / "example_sae.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    text = example.write_text(out)
    small = example.write_model(out / "small", (text / "stdlib-docstrings.txt").read_text(encoding="utf-8"))
    fast = PreTrainedTokenizerFast.from_pretrained(small)
    torch.manual_seed(0)
    model_dir = out / "model"
    GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=d_model, n_head=d_model // 128, vocab_size=2 * d_model,
                               n_positions=128, bos_token_id=fast.bos_token_id, eos_token_id=fast.bos_token_id,
                               tie_word_embeddings=False)).save_pretrained(model_dir)
    fast.save_pretrained(model_dir)
    cls, cfg_cls = get_sae_class("jumprelu")
    sae = cls(cfg_cls(d_in=d_model, d_sae=d_sae, metadata=SAEMetadata(hook_name="blocks.1.hook_resid_post")))
    with torch.no_grad():
        g = torch.Generator().manual_seed(1)
        sae.W_dec.copy_(torch.nn.functional.normalize(torch.randn(d_sae, d_model, generator=g), dim=1))
        sae.W_enc.copy_(sae.W_dec.T)
        sae.threshold.fill_(0.05)
    sae_dir = out / "sae"
    sae.save_model(sae_dir)
    return model_dir, sae_dir, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--d-model", type=int, default=2304)
    parser.add_argument("--d-sae", type=int, default=16_384)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from replication.check import check
    from replication.lm.text import TextSource

    with tempfile.TemporaryDirectory() as tmp:
        model_dir, sae_dir, text = build(Path(tmp), args.d_model, args.d_sae)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        wall, cpu = time.perf_counter(), time.process_time()
        verdicts = check(str(model_dir), str(sae_dir), text=TextSource(folder=str(text)), n_tokens=args.tokens,
                         device=args.device, results_dir=Path(tmp) / "results", quiet=True)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"check on d_model {args.d_model}, d_sae {args.d_sae}, {args.tokens} tokens, {args.device}, "
          f"{args.threads} thread(s): {len(verdicts)} claims in {wall:.1f} s wall, {cpu:.1f} s CPU; peak RSS "
          f"{peak / 1024:.0f} MB (before the check: {before / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
