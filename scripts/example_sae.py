"""Write a small model and two SAEs to disk, in the formats today's libraries write, for `sae-replicate check`.

    python scripts/example_sae.py OUT      # OUT/model, OUT/sae-pair, OUT/sae-nopair, OUT/text

- ``model``: a 3-layer GPT-2-style LM (``transformers`` ``save_pretrained``, random weights, untied W_U) with a
  BPE tokenizer trained on the text;
- ``sae-pair``: a sae-lens JumpReLU SAE (``save_model``) at ``blocks.2.hook_resid_post`` with an antipodal pair
  planted along U_{-1} of the model's processed W_U (two dense latents reading +u and -u, never active
  together) and 62 sparse random latents;
- ``sae-nopair``: a sae-lens standard (ReLU) SAE with random weights at the same hook: dense latents, no pair;
- ``text``: offline text (the docstrings of Python's standard library) to run them on.
"""

from __future__ import annotations

import argparse
import ast
import sys
import sysconfig
from pathlib import Path

import torch

HOOK = "blocks.2.hook_resid_post"
D_MODEL, D_SAE = 32, 64


def write_text(out: Path, max_chars: int = 400_000) -> Path:
    """Docstrings of the standard library's modules (offline on any Python), as one ``.txt`` file."""
    chunks, n = [], 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("[a-m]*.py")):
        try:
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8", errors="replace")))
        except SyntaxError:
            continue
        if doc:
            chunks.append(doc)
            n += len(doc)
        if n >= max_chars:
            break
    folder = out / "text"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stdlib-docstrings.txt").write_text("\n\n".join(chunks), encoding="utf-8")
    return folder


def write_model(out: Path, text: str, seed: int = 0) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator([text], trainers.BpeTrainer(vocab_size=256, special_tokens=["<bos>", "<pad>", "<unk>"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", pad_token="<pad>", unk_token="<unk>")
    torch.manual_seed(seed)
    config = GPT2Config(n_layer=3, n_embd=D_MODEL, n_head=4, vocab_size=len(fast), n_positions=64,
                        bos_token_id=fast.bos_token_id, eos_token_id=fast.bos_token_id, tie_word_embeddings=False)
    folder = out / "model"
    GPT2LMHeadModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def _resid(model_dir: Path, text_dir: Path, n_tokens: int = 8_000) -> tuple[torch.Tensor, object]:
    from replication.lm.hooks import activation_stream
    from replication.lm.load import load_hooked_transformer
    from replication.lm.text import TextSource, text_windows

    model = load_hooked_transformer(str(model_dir))
    tok = model.tokenizer
    windows = text_windows(tok, TextSource(folder=str(text_dir)).texts(), n_tokens=n_tokens, ctx_len=64,
                           batch_size=16, bos_token_id=tok.bos_token_id)
    rows = [b.resid[b.mask] for b in activation_stream(model, HOOK, windows)]
    return torch.cat(rows).detach(), model


def write_saes(out: Path, model_dir: Path, text_dir: Path, seed: int = 0) -> tuple[Path, Path]:
    from sae_lens.registry import get_sae_class
    from sae_lens.saes.sae import SAEMetadata

    from replication.lm.load import final_norm, unembedding
    from replication.papers.antipodal.analysis import FinalNorm, unembedding_readings

    x, model = _resid(model_dir, text_dir)
    u = unembedding_readings(unembedding(model).float(), FinalNorm(*final_norm(model)), 1)["processed"].U[:, -1]
    u = u.float()
    g = torch.Generator().manual_seed(seed)
    meta = SAEMetadata(hook_name=HOOK)

    cls, cfg_cls = get_sae_class("jumprelu")
    pair = cls(cfg_cls(d_in=D_MODEL, d_sae=D_SAE, metadata=meta))
    W_dec = torch.nn.functional.normalize(torch.randn(D_SAE, D_MODEL, generator=g), dim=1)
    W_dec[0], W_dec[1] = u, -u
    with torch.no_grad():
        pair.W_dec.copy_(W_dec)
        pair.W_enc.copy_(W_dec.T)
        pair.b_enc.zero_()
        # centred along u (half the tokens on each side), nothing else shifted: the pair is dense and exclusive
        pair.b_dec.copy_(u * float((x @ u).median()))
        pre = (x - pair.b_dec) @ pair.W_enc
        threshold = torch.quantile(pre, 0.99, dim=0)  # the random latents fire on ~1% of tokens
        threshold[:2] = 1e-6
        pair.threshold.copy_(threshold)

    cls, cfg_cls = get_sae_class("standard")
    nopair = cls(cfg_cls(d_in=D_MODEL, d_sae=D_SAE, metadata=meta))
    with torch.no_grad():
        W = torch.nn.functional.normalize(torch.randn(D_SAE, D_MODEL, generator=g), dim=1)
        nopair.W_dec.copy_(W)
        nopair.W_enc.copy_(W.T)
        nopair.b_dec.copy_(x.mean(0))
        nopair.b_enc.zero_()
    paths = out / "sae-pair", out / "sae-nopair"
    pair.save_model(paths[0])
    nopair.save_model(paths[1])
    return paths


def write_example(out: Path) -> dict[str, Path]:
    """Everything the README's offline check runs on."""
    out.mkdir(parents=True, exist_ok=True)
    text_dir = write_text(out)
    model_dir = write_model(out, (text_dir / "stdlib-docstrings.txt").read_text(encoding="utf-8"))
    pair, nopair = write_saes(out, model_dir, text_dir)
    return {"model": model_dir, "sae-pair": pair, "sae-nopair": nopair, "text": text_dir}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write into")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for name, path in write_example(args.out).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
