import numpy as np
import pytest
import tensorflow as tf

from zoo.data import samples
from zoo.text import WordPieceTokenizer


def read_pairs(name):
    with open(samples.path(name), encoding="utf-8") as f:
        header = f.readline()
        assert header == "english\tspanish\n"
        return [line.rstrip("\n").split("\t") for line in f]


@pytest.fixture(scope="module")
def tokenizer():
    pairs = read_pairs("tatoeba_en_es.tsv")
    return WordPieceTokenizer.train([s for p in pairs for s in p], vocabulary_size=4000,
                                    lowercase=False)


def test_shipped_samples_parse():
    train, test = read_pairs("tatoeba_en_es.tsv"), read_pairs("tatoeba_en_es.test.tsv")
    assert (len(train), len(test)) == (4000, 500)
    for en, es in train + test:
        assert en.strip() and es.strip()


def test_specials_come_first(tokenizer):
    assert tuple(tokenizer.vocabulary[:7]) == WordPieceTokenizer.SPECIAL_TOKENS
    assert 1000 < tokenizer.vocabulary_size <= 4000
    assert (tokenizer.pad_id, tokenizer.end_id, tokenizer.mask_id) == (0, 2, 6)


def test_round_trip_restores_real_sentences(tokenizer):
    pairs = read_pairs("tatoeba_en_es.test.tsv")
    texts = [s for p in pairs for s in p]
    restored = [t.decode() for t in tokenizer.detokenize(tokenizer.tokenize(texts)).numpy()]
    exact = np.mean([a == b for a, b in zip(texts, restored)])
    assert exact > 0.97, exact  # (unknown characters and quotes are what stays off)
    assert tokenizer.detokenize(tokenizer.tokenize(["¿Qué hora es? Son las 2:30."])).numpy()[0].decode() == "¿Qué hora es? Son las 2:30."


def test_unknown_characters_map_to_unk(tokenizer):
    ids = tokenizer.tokenize(["Tom ☃"]).to_list()[0]
    assert ids[-1] == tokenizer.unk_id and ids[0] != tokenizer.unk_id


def test_detokenize_stops_at_end_and_drops_padding(tokenizer):
    ids = tokenizer.tokenize(["Tom is here.", "Hi."]).to_tensor()
    ids = np.concatenate([ids, np.full((2, 2), tokenizer.end_id), np.zeros((2, 3), "int32")], 1)
    ids[1, -1] = ids[0, 0]  # a token after the end: dropped
    assert [t.decode() for t in tokenizer.detokenize(ids).numpy()] == ["Tom is here.", "Hi."]


def test_runs_in_tf_data_and_tf_function(tokenizer):
    ds = tf.data.Dataset.from_tensor_slices(["I see Tom.", "Veo a Tom."]).map(tokenizer.tokenize)
    eager = tokenizer.tokenize(["I see Tom.", "Veo a Tom."]).to_list()
    assert [x.numpy().tolist() for x in ds] == eager
    fn = tf.function(lambda t: tokenizer.detokenize(tokenizer.tokenize(t)))
    assert fn(tf.constant(["Veo a Tom."])).numpy()[0].decode() == "Veo a Tom."


def test_save_and_load_give_identical_ids(tokenizer, tmp_path):
    tokenizer.save(tmp_path / "tok")
    loaded = WordPieceTokenizer.load(tmp_path / "tok")
    assert loaded.vocabulary == tokenizer.vocabulary
    text = ["Ganamos la batalla.", "We understand why."]
    assert loaded.tokenize(text).to_list() == tokenizer.tokenize(text).to_list()
    assert sorted(p.name for p in (tmp_path / "tok").iterdir()) == ["tokenizer.json", "vocab.txt"]


def test_lowercase_strips_accents():
    tok = WordPieceTokenizer.train(["Qué tal", "que tal"] * 3, vocabulary_size=50)
    assert tok.detokenize(tok.tokenize(["QUÉ TAL"])).numpy()[0].decode() == "que tal"


def test_bad_vocabularies_are_refused():
    with pytest.raises(ValueError, match="special tokens"):
        WordPieceTokenizer(["hello", "world"])
    with pytest.raises(ValueError, match="twice"):
        WordPieceTokenizer(list(WordPieceTokenizer.SPECIAL_TOKENS) + ["a", "a"])
    with pytest.raises(ValueError, match="at least 23"):
        WordPieceTokenizer.train(["a b"], vocabulary_size=5)
    with pytest.raises(FileNotFoundError, match="saved tokenizer"):
        WordPieceTokenizer.load("/nonexistent")
