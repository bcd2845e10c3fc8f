"""`zoo quickstart`: build, train briefly and evaluate a tiny model of each family.

Runs offline on data that ships with zoo or its dependencies: scikit-learn's
8x8 digits for the ViT and the VAE, and the Tatoeba English-Spanish sample in
`zoo/data/samples/` for BERT (pretrain with masked-LM, then tell English from
Spanish) and the Transformer (translate English to Spanish). Scores come from
scikit-learn and sacrebleu. The numbers show the pipeline works end to end;
they are not leaderboard results (those train for much longer).
"""

from __future__ import annotations

import os
import time

from zoo import atomic

DEFAULT_STEPS = {"vit": 600, "vae": 600, "bert_pretrain": 300, "bert_finetune": 300, "transformer": 1500}


def _read_pairs(name):
    from zoo.data import samples

    with open(samples.path(name), encoding="utf-8") as f:
        next(f)  # header
        return [tuple(line.rstrip("\n").split("\t")) for line in f]


def _digits_split(seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = (data.images[..., None] / 16.0).astype("float32")
    return train_test_split(
        images, data.target.astype("int32"), test_size=0.2, stratify=data.target, random_state=seed
    )


def _epochs(steps, n, batch):
    return max(1, round(steps * batch / n))


def _classification_scores(labels, predictions, num_classes):
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(
            f1_score(labels, predictions, labels=list(range(num_classes)), average="macro",
                     zero_division=0)
        ),
    }


def vit_on_digits(steps, seed):
    import keras

    import zoo

    x_train, x_test, y_train, y_test = _digits_split(seed)
    model = zoo.build("vit_tiny_patch2_8")
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3, weight_decay=0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=64, epochs=_epochs(steps, len(x_train), 64), verbose=0)
    seconds = time.perf_counter() - start
    predictions = model.predict(x_test, batch_size=256, verbose=0).argmax(-1)
    return {
        "family": "vit", "model": "vit_tiny_patch2_8", "data": "sklearn digits (1437/360 split)",
        "params": model.count_params(), "train_seconds": round(seconds, 1),
        "scores": _classification_scores(y_test, predictions, 10),
    }


def vae_on_digits(steps, seed):
    import keras
    import numpy as np

    import zoo

    x_train, x_test, _, _ = _digits_split(seed)
    model = zoo.build("vae_tiny", image_size=8)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    start = time.perf_counter()
    model.fit(x_train, batch_size=64, epochs=_epochs(steps, len(x_train), 64), verbose=0)
    seconds = time.perf_counter() - start
    from zoo.models.vae.vae import kl_divergence

    keras.utils.set_random_seed(seed)
    nelbo = float(np.mean(model.negative_elbo(x_test)))
    outputs = model(x_test)
    kl = float(np.mean(kl_divergence(outputs["z_mean"], outputs["z_log_var"])))
    return {
        "family": "vae", "model": "vae_tiny (image_size=8)", "data": "sklearn digits (1437/360 split)",
        "params": model.count_params(), "train_seconds": round(seconds, 1),
        "scores": {"negative_elbo_nats": round(nelbo, 3), "kl_nats": round(kl, 3)},
    }


def bert_language_id(pretrain_steps, finetune_steps, seed):
    import keras
    import numpy as np

    import zoo
    from zoo.models.bert.masking import mask_tokens
    from zoo.text import WordPieceTokenizer, features

    train = _read_pairs("tatoeba_en_es.tsv")
    test = _read_pairs("tatoeba_en_es.test.tsv")
    texts = [en for en, _ in train] + [es for _, es in train]
    labels = np.array([0] * len(train) + [1] * len(train), "int32")
    test_texts = [en for en, _ in test] + [es for _, es in test]
    test_labels = np.array([0] * len(test) + [1] * len(test), "int32")
    tokenizer = WordPieceTokenizer.train(texts, vocabulary_size=3000)
    length = 32
    x = features.bert_inputs(tokenizer, texts, length)
    special = [tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id]
    config = dict(vocabulary_size=tokenizer.vocabulary_size, max_sequence_length=length)

    # Masked-LM pretraining on the training sentences.
    mlm = zoo.build("bert_tiny", task="masked_lm", **config)
    masked = mask_tokens(x["token_ids"], vocabulary_size=tokenizer.vocabulary_size,
                         mask_id=tokenizer.mask_id, unselectable_ids=special, max_predictions=5,
                         seed=(seed, 0))
    mlm_x = dict(x, token_ids=masked["token_ids"], mask_positions=masked["mask_positions"])
    mlm.compile(optimizer=keras.optimizers.Adam(1e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                weighted_metrics=[])
    start = time.perf_counter()
    history = mlm.fit(mlm_x, masked["mask_ids"], sample_weight=masked["mask_weights"],
                      batch_size=64, epochs=_epochs(pretrain_steps, len(texts), 64), verbose=0)

    # Fine-tuning a classifier that starts from the pretrained encoder.
    clf = zoo.build("bert_tiny", task="classifier", num_classes=2, **config)
    clf.backbone.set_weights(mlm.backbone.get_weights())
    clf.compile(optimizer=keras.optimizers.Adam(1e-4),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    clf.fit(x, labels, batch_size=64, epochs=_epochs(finetune_steps, len(texts), 64), verbose=0)
    seconds = time.perf_counter() - start
    logits = clf.predict(features.bert_inputs(tokenizer, test_texts, length), batch_size=256, verbose=0)
    scores = _classification_scores(test_labels, logits.argmax(-1), 2)
    scores["mlm_loss_first_last"] = [round(history.history["loss"][0], 3),
                                     round(history.history["loss"][-1], 3)]
    return {
        "family": "bert", "model": "bert_tiny (masked-LM, then classifier)",
        "data": "Tatoeba en/es sample: which language? (8000/1000 sentences)",
        "params": clf.count_params(), "train_seconds": round(seconds, 1), "scores": scores,
    }


def _seq2seq_ids(tokenizer, pairs, length):
    """Source ids (ending with [END]), decoder inputs ([START] + target) and targets (+ [END])."""
    from zoo.text import features

    x, y = features.seq2seq_inputs(tokenizer, [s for s, _ in pairs], [t for _, t in pairs], length)
    return x["encoder_token_ids"].numpy(), x["decoder_token_ids"].numpy(), y.numpy()


def transformer_en_es(steps, seed):
    import keras
    import sacrebleu

    import zoo
    from zoo.text import WordPieceTokenizer

    train = _read_pairs("tatoeba_en_es.tsv")
    test = _read_pairs("tatoeba_en_es.test.tsv")[:200]
    tokenizer = WordPieceTokenizer.train(
        [s for pair in train for s in pair], vocabulary_size=4000, lowercase=False
    )
    length = 24
    sources, decoder_in, targets = _seq2seq_ids(tokenizer, train, length)
    model = zoo.build(
        "transformer_tiny", vocabulary_size=tokenizer.vocabulary_size, max_sequence_length=length,
        pad_id=tokenizer.pad_id, start_id=tokenizer.start_id, end_id=tokenizer.end_id,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    start = time.perf_counter()
    history = model.fit(
        {"encoder_token_ids": sources, "decoder_token_ids": decoder_in}, targets,
        batch_size=64, epochs=_epochs(steps, len(train), 64), verbose=0,
    )
    seconds = time.perf_counter() - start
    test_sources = _seq2seq_ids(tokenizer, test, length)[0]
    translated = model.generate(test_sources, max_length=length - 1, beam_width=4)
    hypotheses = [s.decode("utf-8") for s in tokenizer.detokenize(translated).numpy()]
    references = [es for _, es in test]
    bleu_metric = sacrebleu.BLEU()
    bleu = bleu_metric.corpus_score(hypotheses, [references])
    chrf = sacrebleu.CHRF().corpus_score(hypotheses, [references])
    return {
        "family": "transformer", "model": "transformer_tiny",
        "data": "Tatoeba en->es sample (4000 train / 200 test pairs)",
        "params": model.count_params(), "train_seconds": round(seconds, 1),
        "scores": {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2),
                   "loss_first_last": [round(history.history["loss"][0], 3),
                                       round(history.history["loss"][-1], 3)]},
        "example": {"source": test[0][0], "reference": test[0][1], "hypothesis": hypotheses[0]},
        "bleu_signature": str(bleu_metric.get_signature()),
    }


def run(steps=None, out="runs/quickstart", seed=0, log=print):
    """Runs the four families and writes `out/results.json`; returns the result dicts."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras.utils.set_random_seed(seed)
    budget = dict(DEFAULT_STEPS)
    if steps is not None:
        budget = {key: steps for key in budget}
    jobs = [
        ("vit", lambda: vit_on_digits(budget["vit"], seed)),
        ("vae", lambda: vae_on_digits(budget["vae"], seed)),
        ("bert", lambda: bert_language_id(budget["bert_pretrain"], budget["bert_finetune"], seed)),
        ("transformer", lambda: transformer_en_es(budget["transformer"], seed)),
    ]
    results = []
    for family, job in jobs:
        log(f"[quickstart] {family}: training ...", flush=True)
        result = job()
        result["ok"] = True
        results.append(result)
        scores = ", ".join(f"{k}={v}" for k, v in result["scores"].items())
        log(f"[quickstart] {result['model']} on {result['data']}: {scores} "
            f"({result['params']:,} parameters, {result['train_seconds']} s training)", flush=True)
    path = os.path.join(out, "results.json")
    atomic.write_json(path, {"seed": seed, "steps": budget, "results": results})
    log(f"[quickstart] wrote {path}")
    return results
