"""Every model trains a step with and without XLA, and a few steps on real data
lower the loss of each family."""

import keras
import numpy as np
import pytest
from helpers import MODEL_CASES, build_case, cases_by_cost, training_batch

import zoo

# Every case with a loss: not the bare BERT backbone, not the headless ViT feature extractor.
TRAINABLE = [
    c for c in MODEL_CASES
    if not (c[0].startswith("bert") and c[1] is None) and c[2].get("num_classes") != 0
]


@pytest.mark.parametrize("jit_compile", [False, pytest.param(True, marks=pytest.mark.slow)],
                         ids=["eager-graph", "xla"])
@pytest.mark.parametrize("case", cases_by_cost(TRAINABLE))
def test_a_training_step_runs_and_changes_the_weights(case, jit_compile):
    model = build_case(case)
    x, y, loss = training_batch(model)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, jit_compile=jit_compile)
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"])
    unchanged = {
        w.path for b, w in zip(before, model.trainable_weights) if np.array_equal(b, w.numpy())
    }
    assert not unchanged, unchanged


def _digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images[..., None] / 16.0).astype("float32"), data.target.astype("int32")


def test_vit_loss_falls_on_digits():
    images, labels = _digits()
    model = zoo.build("vit_tiny_patch2_8", num_layers=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    first = model.evaluate(images[:512], labels[:512], verbose=0)
    model.fit(images[:1024], labels[:1024], batch_size=64, epochs=3, verbose=0)
    assert model.evaluate(images[:512], labels[:512], verbose=0) < 0.8 * first


@pytest.mark.parametrize("name", ["vae_tiny", "ae_tiny"])
def test_vae_and_autoencoder_loss_falls_on_digits(name):
    images, _ = _digits()
    model = zoo.build(name, image_size=8)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    history = model.fit(images[:1024], batch_size=64, epochs=4, verbose=0).history["loss"]
    assert history[-1] < 0.9 * history[0]


@pytest.fixture(scope="module")
def tatoeba():
    from zoo import datasets
    from zoo.text import WordPieceTokenizer

    sample = datasets.load("tatoeba-en-es-sample", "train")  # shipped with zoo
    pairs = list(zip(sample.inputs, sample.targets))[:1500]
    tokenizer = WordPieceTokenizer.train([s for p in pairs for s in p], vocabulary_size=2000,
                                         lowercase=False)
    return pairs, tokenizer


@pytest.mark.slow
def test_transformer_loss_falls_on_tatoeba(tatoeba):
    from zoo.text.features import seq2seq_inputs

    pairs, tokenizer = tatoeba
    x, y = seq2seq_inputs(tokenizer, [s for s, _ in pairs], [t for _, t in pairs], 20)
    src, dec, tgt = (x["encoder_token_ids"].numpy(), x["decoder_token_ids"].numpy(), y.numpy())
    model = zoo.build("transformer_tiny", vocabulary_size=tokenizer.vocabulary_size,
                      max_sequence_length=20)
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0))
    x = {"encoder_token_ids": src, "decoder_token_ids": dec}
    held = {k: v[-200:] for k, v in x.items()}
    first = model.evaluate(held, tgt[-200:], verbose=0)
    model.fit({k: v[:-200] for k, v in x.items()}, tgt[:-200], batch_size=64, epochs=2, verbose=0)
    assert model.evaluate(held, tgt[-200:], verbose=0) < 0.8 * first


@pytest.mark.slow
def test_bert_masked_lm_loss_falls_on_tatoeba(tatoeba):
    from zoo.text.features import bert_inputs
    from zoo.text.masking import mask_tokens

    pairs, tokenizer = tatoeba
    x = bert_inputs(tokenizer, [en for en, _ in pairs], 24)
    masked = mask_tokens(x["token_ids"], vocabulary_size=tokenizer.vocabulary_size,
                         mask_id=tokenizer.mask_id, max_predictions=4,
                         unselectable_ids=[tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id],
                         seed=(0, 0))
    model = zoo.build("bert_tiny", task="masked_lm", vocabulary_size=tokenizer.vocabulary_size,
                      max_sequence_length=24)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    inputs = dict(x, token_ids=masked["token_ids"], mask_positions=masked["mask_positions"])
    history = model.fit(inputs, masked["mask_ids"], sample_weight=masked["mask_weights"],
                        batch_size=64, epochs=3, verbose=0).history["loss"]
    assert history[-1] < 0.85 * history[0], history


def test_every_shipped_recipe_is_valid_and_names_known_things():
    import zoo
    from zoo import datasets
    from zoo.harness import benchmarks
    from zoo.training import recipes

    names = recipes.list_recipes()
    assert {"vit_tiny_patch4_28.mnist", "bert_mini.sst2", "hub_bert_classifier.sst2"} <= set(names)
    for name in names:
        recipe = recipes.get(name)
        assert recipe.entry == name
        zoo.describe(recipe.model)
        assert recipe.split in datasets.info(recipe.dataset).splits
        if recipe.benchmark:
            assert benchmarks.get(recipe.benchmark).dataset == recipe.dataset
        assert recipes.Recipe.from_dict(recipe.to_dict()) == recipe
