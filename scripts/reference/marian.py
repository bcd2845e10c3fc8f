"""Marian (Transformers' `MarianMTModel` + `MarianTokenizer`) reference cases for zoo's
Transformer (`zoo/models/transformer/convert.py`).

Each case trains tiny SentencePiece models (the `sentencepiece` trainer, one thread, on the
corpus below), builds a `MarianTokenizer` on them and a randomly initialised `MarianMTModel`,
saves both with `save_pretrained`, and records:
- `logits`: teacher forcing on a padded batch (encoder ids and attention mask from the
  tokenizer; decoder ids = the target ids shifted right behind the start id, with the
  decoder attention mask zoo uses: padding masked, position 0 never);
- `generated`: greedy ids, `generate(num_beams=1, do_sample=False, max_new_tokens=N,
  bad_words_ids=[[pad]], forced_eos_token_id=None)` without the start column, padded with the
  pad id to N (zoo's `generate(max_length=N)`: zoo never produces the pad or start token, which
  for Marian are one id, and forces no end token at the last step);
- `source_ids` / `target_ids`: the tokenizer's ids of a test corpus (source and target side),
  and `decoded` / `decoded_generated`: `batch_decode(..., skip_special_tokens=True)`.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from scripts.reference.common import case_folder, versions, write_case

SOURCE_TEXT = [
    "The cat sat on the mat.", "A dog ran in the park!", "Birds sing in the morning.",
    "She reads books every day.", "We walk to school together.", "Is it raining today?",
    "My brother plays football; my sister plays chess.", "They bought 3 apples for $2.50.",
    "The quick brown fox jumps over the lazy dog.", "Where is the train station?",
    "I don't know what you mean.", "Please open the window, it's hot.",
]
TARGET_TEXT = [
    "Die Katze saß auf der Matte.", "Ein Hund rannte im Park!", "Vögel singen am Morgen.",
    "Sie liest jeden Tag Bücher.", "Wir gehen zusammen zur Schule.", "Regnet es heute?",
    "Mein Bruder spielt Fußball; meine Schwester spielt Schach.",
    "Sie kauften 3 Äpfel für 2,50 $.", "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Wo ist der Bahnhof?", "Ich weiß nicht, was du meinst.", "Bitte öffne das Fenster, es ist heiß.",
]
#: Tokenizer test corpus: unseen words, unknown characters (Zulu clicks, CJK, emoji),
#: full-width letters (NFKC), extra spaces, empty text, a language code.
TEST_SOURCE = [
    "The cat reads.", "Zebras quietly jog; Ｆｕｌｌ width!", "  extra   spaces  ", "",
    "猫 and 🐈 are cats", "Ünïcödé ñ ß", ">>de<< Where is the dog?", "x",
]
TEST_TARGET = ["Die Katze liest.", "Zebras joggen leise; Ｖｏｌｌ!", "", "Straße ÄÖÜ 🐈"]


def _spm(texts, vocab_size, normalization):
    import sentencepiece

    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts * 4), model_writer=model, vocab_size=vocab_size,
        model_type="unigram", character_coverage=1.0, num_threads=1,
        normalization_rule_name=normalization, hard_vocab_limit=False)
    return model.getvalue()


def _vocabulary(models, first, last, codes=()):
    """Marian's vocab.json: `first` specials, language codes, every model's pieces (control
    and unknown pieces left out), `last` specials."""
    from zoo.text.sentencepiece import model_pieces

    pieces = list(first) + list(codes)
    for model in models:
        pieces += [p for p, kind in model_pieces(model) if kind in (1, 4) and p not in pieces]
    pieces += list(last)
    return {piece: i for i, piece in enumerate(pieces)}


def _randomize(model, seed):
    """Every parameter drawn anew (layer norms near 1), so no mapping hides behind zeros or
    ones; the final logits bias too."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            if "layer_norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * noise)
            else:
                p.copy_(0.2 * noise)
        model.final_logits_bias.copy_(0.5 * torch.randn(model.final_logits_bias.shape,
                                                        generator=generator))


def _generation_config(config, max_new_tokens):
    from transformers import GenerationConfig

    return GenerationConfig(
        max_new_tokens=max_new_tokens, num_beams=1, do_sample=False,
        bad_words_ids=[[config.pad_token_id]], decoder_start_token_id=config.decoder_start_token_id,
        eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id,
        forced_eos_token_id=None)


def _run(model, tokenizer, max_new_tokens):
    """`(inputs, expected, smallest greedy margin)` of the batch in the module docstring."""
    import torch

    config = model.config
    pad = config.pad_token_id
    batch = tokenizer(SOURCE_TEXT[:4], text_target=TARGET_TEXT[:4], padding=True,
                      return_tensors="pt")
    labels = batch["labels"]
    decoder_ids = torch.full_like(labels, pad)
    decoder_ids[:, 0] = config.decoder_start_token_id
    decoder_ids[:, 1:] = labels[:, :-1]
    decoder_mask = (decoder_ids != pad).long()
    decoder_mask[:, 0] = 1
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       decoder_input_ids=decoder_ids, decoder_attention_mask=decoder_mask).logits
        model.generation_config.forced_eos_token_id = None  # zoo forces no end token
        out = model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             generation_config=_generation_config(config, max_new_tokens),
                             output_scores=True, return_dict_in_generate=True)
    generated = np.full((labels.shape[0], max_new_tokens), pad, "int32")
    ids = out.sequences[:, 1:].numpy()
    generated[:, : ids.shape[1]] = ids
    margins = [float(torch.topk(s, 2).values.diff().abs().min()) for s in out.scores]
    inputs = {"encoder_token_ids": batch["input_ids"].numpy().astype("int32"),
              "attention_mask": batch["attention_mask"].numpy().astype("int32"),
              "decoder_token_ids": decoder_ids.numpy().astype("int32")}
    expected = {"logits": logits.numpy().astype("float32"), "generated": generated}
    return inputs, expected, min(margins)


def _tokenizer_outputs(tokenizer):
    """The test corpus's source and target ids (ragged: flat + lengths) and decodings."""
    source = [tokenizer(t)["input_ids"] for t in TEST_SOURCE]
    target = [tokenizer(text_target=t)["input_ids"] for t in TEST_TARGET]
    decoded = [tokenizer.decode(ids, skip_special_tokens=True) for ids in target]
    return source, target, decoded


def _ragged(name, rows):
    return {f"{name}_flat": np.asarray([i for row in rows for i in row], "int32"),
            f"{name}_lengths": np.asarray([len(row) for row in rows], "int32")}


def _make(out, case, *, separate, share, tie, activation, scale, normalization, seed,
          max_new_tokens=8):
    import sentencepiece
    import torch
    import transformers
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    folder = case_folder(out, case)
    source_spm = _spm(SOURCE_TEXT, 90, normalization)
    target_spm = _spm(TARGET_TEXT, 90, normalization)
    (folder / "source.spm").write_bytes(source_spm)
    (folder / "target.spm").write_bytes(target_spm)
    if separate:  # separate vocabularies: pad early, as in Marian's own separate vocab files
        vocab = _vocabulary([source_spm], ["</s>", "<unk>", "<pad>"], [])
        target_vocab = _vocabulary([target_spm], ["</s>", "<unk>", "<pad>"], [])
    else:  # one joint vocabulary, pad last (opus-mt's layout)
        vocab = _vocabulary([source_spm, target_spm], ["</s>", "<unk>"], ["<pad>"],
                            codes=[">>de<<"])
        target_vocab = None
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    if target_vocab:
        (folder / "target_vocab.json").write_text(json.dumps(target_vocab, ensure_ascii=False))
    tokenizer = MarianTokenizer(
        str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json"),
        target_vocab_file=str(folder / "target_vocab.json") if separate else None,
        separate_vocabs=separate, source_lang="en", target_lang="de")
    pad = vocab["<pad>"]
    config = MarianConfig(
        vocab_size=len(vocab), decoder_vocab_size=len(target_vocab or vocab), d_model=32,
        encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_position_embeddings=64, activation_function=activation, scale_embedding=scale,
        pad_token_id=pad, decoder_start_token_id=pad, eos_token_id=vocab["</s>"],
        forced_eos_token_id=vocab["</s>"], share_encoder_decoder_embeddings=share,
        tie_word_embeddings=tie, architectures=["MarianMTModel"])
    torch.manual_seed(seed)
    model = MarianMTModel(config).eval()
    _randomize(model, seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    # What was written is what is compared: reload both.
    model = MarianMTModel.from_pretrained(folder).eval()
    tokenizer = MarianTokenizer.from_pretrained(folder)
    inputs, expected, margin = _run(model, tokenizer, max_new_tokens)
    source, target, decoded = _tokenizer_outputs(tokenizer)
    expected.update(_ragged("source_ids", source))
    expected.update(_ragged("target_ids", target))
    generated_text = tokenizer.batch_decode(expected["generated"].tolist(),
                                            skip_special_tokens=True)
    write_case(out, case, inputs, expected, {
        "library": versions(torch, transformers, sentencepiece), "architecture": "MarianMTModel",
        "max_new_tokens": max_new_tokens, "greedy_margin": margin,
        "test_source": TEST_SOURCE, "test_target": TEST_TARGET, "decoded": decoded,
        "decoded_generated": generated_text,
        "special_tokens": sorted(tokenizer.all_special_tokens),
        "compared": ["logits", "generated", "source_ids", "target_ids", "decoded",
                     "decoded_generated"]})


def marian_shared(out):
    """opus-mt's layout: one vocabulary (pad last, a language code), shared and tied
    embeddings, swish, scaled embeddings, NFKC SentencePiece models."""
    _make(out, "marian_shared", separate=False, share=True, tie=True, activation="swish",
          scale=True, normalization="nmt_nfkc", seed=0)


def marian_separate(out):
    """Separate source and target vocabularies and embeddings, an untied output projection,
    exact GELU, unscaled embeddings, identity SentencePiece normalization."""
    _make(out, "marian_separate", separate=True, share=False, tie=False, activation="gelu",
          scale=False, normalization="identity", seed=1)


CASES = {"marian_shared": marian_shared, "marian_separate": marian_separate}


def transformer_base():
    """A `MarianMTModel` shaped as zoo's `transformer_base` (6+6 layers, 512, 8 heads, 2,048,
    37,000 shared tokens, relu, scaled embeddings, tied output, 256 positions), random
    (seed 0), against zoo's conversion: logits on a fixed padded batch, and parameter counts."""
    import tempfile

    import torch
    from transformers import MarianConfig, MarianMTModel

    import zoo
    from zoo.checkpoints.converted import Source
    from zoo.models.transformer.convert import load_transformers

    vocab, pad, eos = 37000, 36999, 0
    config = MarianConfig(
        vocab_size=vocab, d_model=512, encoder_layers=6, decoder_layers=6,
        encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=2048,
        decoder_ffn_dim=2048, max_position_embeddings=256, activation_function="relu",
        scale_embedding=True, pad_token_id=pad, decoder_start_token_id=pad, eos_token_id=eos,
        forced_eos_token_id=eos, share_encoder_decoder_embeddings=True,
        tie_word_embeddings=True, architectures=["MarianMTModel"])
    torch.manual_seed(0)
    model = MarianMTModel(config).eval()
    with torch.no_grad():
        model.final_logits_bias.normal_(0.0, 0.5)
    rng = np.random.default_rng(0)
    src = rng.integers(1, vocab - 1, size=(2, 40))
    src[1, 25:] = pad
    tgt = rng.integers(1, vocab - 1, size=(2, 30))
    tgt[:, 0] = pad
    tgt[1, 20:] = pad
    src_mask = (src != pad).astype("int64")
    tgt_mask = (tgt != pad).astype("int64")
    tgt_mask[:, 0] = 1
    with torch.no_grad():
        expected = model(input_ids=torch.tensor(src), attention_mask=torch.tensor(src_mask),
                         decoder_input_ids=torch.tensor(tgt),
                         decoder_attention_mask=torch.tensor(tgt_mask)).logits.numpy()
    hf_params = sum(p.numel() for p in model.parameters())
    positions = 2 * config.max_position_embeddings * config.d_model
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        source = Source(Path(folder), "transformers", "MarianMTModel",
                        json.loads((Path(folder) / "config.json").read_text()), folder)
        converted = load_transformers(source, None)
    logits = np.asarray(converted.model({"encoder_token_ids": src.astype("int32"),
                                         "decoder_token_ids": tgt.astype("int32")}))
    zoo_params = converted.model.count_params()
    return {
        "max_abs_diff": float(np.max(np.abs(logits - expected))),
        "logits_shape": list(expected.shape),
        "params_zoo_converted": int(zoo_params),
        "params_zoo_transformer_base": int(zoo.describe("transformer_base")["params"]),
        "params_transformers": int(hf_params),
        "params_note": (
            f"Transformers counts its two frozen sinusoidal tables ({positions:,} = 2 x "
            f"{config.max_position_embeddings} x {config.d_model}) as parameters; zoo computes "
            "them. zoo's converted model holds final_logits_bias "
            f"({vocab:,}, a Transformers buffer, not counted there) beyond transformer_base."),
    }


CANONICAL = {"transformer_base": transformer_base}
