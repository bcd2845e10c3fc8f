"""WordPieceTokenizer on real text (the shipped Tatoeba sample) and the sample files themselves."""

import hashlib
import json
import re

import numpy as np
import pytest
import tensorflow as tf

from zoo.data import samples
from zoo.text import WordPieceTokenizer

SPECIALS = ("[PAD]", "[START]", "[END]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def read_pairs(name):
    with open(samples.path(name), encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    assert lines[0] == "english\tspanish" and lines[-1] == ""
    return [line.split("\t") for line in lines[1:-1]]


def texts_of(tokenizer, ids):
    return [text.decode("utf-8") for text in tokenizer.detokenize(ids).numpy()]


@pytest.fixture(scope="module")
def english():
    return [en for en, _ in read_pairs("tatoeba_en_es.tsv")]


@pytest.fixture(scope="module")
def tokenizer(english):
    """Lowercasing tokenizer learned from the English side of the sample."""
    return WordPieceTokenizer.train(english, vocabulary_size=2000)


@pytest.fixture(scope="module")
def cased():
    """Case- and accent-keeping tokenizer learned from both sides of the sample."""
    pairs = read_pairs("tatoeba_en_es.tsv")[:2000]
    return WordPieceTokenizer.train(
        [s for pair in pairs for s in pair], vocabulary_size=3000, lowercase=False
    )


# === The shipped sample ===


def test_shipped_samples_parse():
    train, test = read_pairs("tatoeba_en_es.tsv"), read_pairs("tatoeba_en_es.test.tsv")
    assert (len(train), len(test)) == (4000, 500)
    for row in train + test:
        assert len(row) == 2 and all(field.strip() for field in row), row
    assert any(re.search("[áéíóúñ¿¡]", es) for _, es in train)  # real Spanish, accents intact


def test_sample_readme_lists_the_files_sha256():
    readme = samples.path("tatoeba_en_es.tsv").with_name("README.md").read_text(encoding="utf-8")
    for name in samples.NAMES:
        digest = hashlib.sha256(samples.path(name).read_bytes()).hexdigest()
        assert f"`{name}` " in readme and digest in readme, name
    assert "CC BY 2.0" in readme or "Attribution 2.0" in readme
    with pytest.raises(ValueError, match="No shipped sample"):
        samples.path("nope.tsv")


# === Vocabulary ===


def test_specials_come_first(tokenizer):
    assert WordPieceTokenizer.SPECIAL_TOKENS == SPECIALS
    assert tuple(tokenizer.vocabulary[:7]) == SPECIALS
    ids = [
        tokenizer.pad_id,
        tokenizer.start_id,
        tokenizer.end_id,
        tokenizer.unk_id,
        tokenizer.cls_id,
        tokenizer.sep_id,
        tokenizer.mask_id,
    ]
    assert ids == list(range(7))
    assert 500 < tokenizer.vocabulary_size <= 2000
    assert len(set(tokenizer.vocabulary)) == tokenizer.vocabulary_size
    # every character of the text is in the vocabulary, alone and as a continuation
    assert {"q", "##q", "?", "'"} <= set(tokenizer.vocabulary)


def test_vocabulary_size_is_an_upper_bound(english):
    small = WordPieceTokenizer.train(english[:1000], vocabulary_size=150)
    assert small.vocabulary_size <= 150
    assert small.tokenize(["What's up?"]).to_list()[0].count(small.unk_id) == 0


# === Round trips ===


def test_round_trip_lowercase(tokenizer):
    texts = [
        "Tom is here.",
        "I don't know.",
        "Who's that?",
        "Come in!",
        "It's 2:30.",
        "We're well-known,  right?",
    ]
    expected = [
        "tom is here.",
        "i don't know.",
        "who's that?",
        "come in!",
        "it's 2:30.",
        "we're well-known, right?",
    ]
    assert texts_of(tokenizer, tokenizer.tokenize(texts)) == expected


def test_round_trip_keeps_case_and_accents(cased):
    texts = [
        "¿Qué hora es?",
        "¡Corre!",
        "Él está aquí, ¿no?",
        "Tom's dog isn't here.",
        '"Hola", dijo Tom.',
    ]
    assert texts_of(cased, cased.tokenize(texts)) == texts


def test_round_trip_on_the_held_out_sample(cased):
    texts = [s for pair in read_pairs("tatoeba_en_es.test.tsv") for s in pair]
    restored = texts_of(cased, cased.tokenize(texts))
    known = set(cased.vocabulary)
    checked = [
        (a, b) for a, b in zip(texts, restored) if all(c in known for c in a if not c.isspace())
    ]
    assert len(checked) > 0.95 * len(texts)
    exact = np.mean([a == b for a, b in checked])
    assert exact > 0.98, [pair for pair in checked if pair[0] != pair[1]][:5]


def test_lowercase_strips_accents_and_cased_keeps_them(english):
    texts = ["Qué tal", "ÉL ESTÁ AQUÍ"] * 3
    lower = WordPieceTokenizer.train(texts, vocabulary_size=60)
    assert texts_of(lower, lower.tokenize(["QUÉ tal"])) == ["que tal"]
    cased = WordPieceTokenizer.train(texts, vocabulary_size=60, lowercase=False)
    assert texts_of(cased, cased.tokenize(["Qué tal"])) == ["Qué tal"]
    assert "é" in cased.vocabulary and "é" not in lower.vocabulary


# === Special ids and unknown characters ===


def test_unknown_characters_map_to_unk(tokenizer):
    ids = tokenizer.tokenize(["Tom ☃ sat", "日本"]).to_list()
    assert ids[0][0] != tokenizer.unk_id and tokenizer.unk_id in ids[0]
    assert ids[1] == [tokenizer.unk_id, tokenizer.unk_id]  # CJK characters are words of their own
    assert texts_of(tokenizer, tokenizer.tokenize(["Tom ☃ sat"])) == ["tom [UNK] sat"]


def test_detokenize_drops_padding_start_and_what_follows_end(tokenizer):
    ids = tokenizer.tokenize(["Tom is here.", "Hi."]).to_tensor()  # dense, padded with 0
    n = ids.shape[0]
    start = np.full((n, 1), tokenizer.start_id, "int32")
    end = np.full((n, 1), tokenizer.end_id, "int32")
    ids = np.concatenate([start, ids, end, np.zeros((n, 2), "int32")], axis=1)
    ids[1, -1] = ids[0, 1]  # a token after [END]: dropped
    assert texts_of(tokenizer, ids) == ["tom is here.", "hi."]
    ragged = tf.ragged.constant([[tokenizer.start_id, *ids[1, 1:3]], []], dtype=tf.int64)
    assert texts_of(tokenizer, ragged) == ["hi", ""]
    single = tokenizer.detokenize(tokenizer.tokenize("Hi."))  # rank 0 in, rank 0 out
    assert single.shape == () and single.numpy() == b"hi."
    assert texts_of(tokenizer, [[tokenizer.vocabulary_size + 5]]) == ["[UNK]"]


# === In-graph use ===


def test_runs_in_tf_data_and_tf_function(tokenizer):
    texts = ["I see Tom.", "Do it now!", "Wait."]
    eager = tokenizer.tokenize(texts).to_list()
    one_by_one = tf.data.Dataset.from_tensor_slices(texts).map(tokenizer.tokenize)
    assert [x.numpy().tolist() for x in one_by_one] == eager
    batched = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(tokenizer.tokenize)
    assert [row for batch in batched for row in batch.to_list()] == eager

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(strings):
        ids = tokenizer.tokenize(strings)
        return tokenizer.detokenize(ids.to_tensor())

    assert [t.decode() for t in round_trip(tf.constant(texts)).numpy()] == [
        "i see tom.",
        "do it now!",
        "wait.",
    ]


def test_sequence_length_truncates(english):
    tok = WordPieceTokenizer.train(english[:500], vocabulary_size=300, sequence_length=3)
    ids = tok.tokenize(["I don't know what to do."])
    assert isinstance(ids, tf.RaggedTensor) and ids.to_list()[0] and len(ids.to_list()[0]) == 3
    assert tok.get_config()["sequence_length"] == 3


# === Saving, config, bad input ===


def test_save_and_load_give_identical_ids(cased, tmp_path):
    cased.save(tmp_path / "tok")
    assert sorted(p.name for p in (tmp_path / "tok").iterdir()) == ["tokenizer.json", "vocab.txt"]
    vocab_lines = (tmp_path / "tok" / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert vocab_lines[:7] == list(SPECIALS) and len(vocab_lines) == cased.vocabulary_size + 1
    settings = json.loads((tmp_path / "tok" / "tokenizer.json").read_text(encoding="utf-8"))
    assert settings["lowercase"] is False and settings["sequence_length"] is None
    loaded = WordPieceTokenizer.load(tmp_path / "tok")
    assert loaded.get_config() == cased.get_config()
    texts = [s for pair in read_pairs("tatoeba_en_es.test.tsv")[:200] for s in pair]
    assert loaded.tokenize(texts).to_list() == cased.tokenize(texts).to_list()
    cased.save(tmp_path / "tok")  # overwriting leaves no temporary files behind
    assert len(list((tmp_path / "tok").iterdir())) == 2
    (tmp_path / "tok" / "vocab.txt").write_text("\n".join(SPECIALS) + "\nzzz\n", encoding="utf-8")
    with pytest.raises(ValueError, match="different saves"):
        WordPieceTokenizer.load(tmp_path / "tok")
    with pytest.raises(FileNotFoundError, match="saved tokenizer"):
        WordPieceTokenizer.load(tmp_path / "nowhere")


def test_get_config_round_trips_through_json(tokenizer):
    config = json.loads(json.dumps(tokenizer.get_config()))
    rebuilt = WordPieceTokenizer(**config)
    text = ["Let's go home."]
    assert rebuilt.tokenize(text).to_list() == tokenizer.tokenize(text).to_list()


@pytest.mark.parametrize(
    ("vocabulary", "message"),
    [
        ([], "empty"),
        (["hello", "world"], "special tokens"),
        (["[PAD]", "[UNK]", "[START]", "[END]", "[CLS]", "[SEP]", "[MASK]", "a"], "special tokens"),
        (list(SPECIALS), "only the special tokens"),
        ([*SPECIALS, "a", "a"], "twice"),
        ([*SPECIALS, "a b"], "without spaces"),
        ("vocab.txt", "list of tokens"),
    ],
)
def test_bad_vocabularies_are_refused(vocabulary, message):
    with pytest.raises(ValueError, match=message):
        WordPieceTokenizer(vocabulary)


def test_bad_arguments_are_refused(tokenizer):
    for size in (5, 22, 8000.0):
        with pytest.raises(ValueError, match="vocabulary_size"):
            WordPieceTokenizer.train(["a b c"], vocabulary_size=size)
    with pytest.raises(ValueError, match="no words"):
        WordPieceTokenizer.train(["", "  "], vocabulary_size=100)
    with pytest.raises(ValueError, match="single string"):
        WordPieceTokenizer.train("some text", vocabulary_size=100)
    with pytest.raises(ValueError, match="sequence_length"):
        WordPieceTokenizer(tokenizer.vocabulary, sequence_length=0)
    with pytest.raises(ValueError, match="rank 2"):
        tokenizer.tokenize([["a", "b"]])


CJK_SENTENCES = ["我喜欢吃苹果。", "你好，世界！", "他说：“你好”。", "我有3个苹果。", "2024年3月1日",
                 "私はりんごを食べます。", "東京タワーに行きました。", "「こんにちは」と言った。",
                 "コーヒーを2杯ください。"]
MIXED = ["Hello, 世界! I like 苹果.", "我爱 Python 和 TensorFlow。", "Tom 说：“OK”。",
         "안녕하세요 세계"]
CJK_PAIR = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef] [\u3000-\u30ff\u4e00-\u9fff"
                      r"\uff00-\uffef\d]")


@pytest.fixture(scope="module")
def cjk():
    return WordPieceTokenizer.train((CJK_SENTENCES + MIXED) * 3, vocabulary_size=300,
                                    lowercase=False)


def test_chinese_and_japanese_come_back_without_spaces(cjk):
    """Each Han character is split off as a word; `detokenize` must not leave it spaced out."""
    assert texts_of(cjk, cjk.tokenize(CJK_SENTENCES)) == CJK_SENTENCES
    assert texts_of(cjk, cjk.tokenize(MIXED)) == MIXED  # Latin words keep their spaces
    assert texts_of(cjk, cjk.tokenize(["我喜欢Python。"])) == ["我喜欢 Python。"]  # unknowable


@pytest.mark.slow
def test_an_exported_translator_writes_chinese_as_the_harness_does(cjk, tmp_path):
    """The exported translator detokenizes in its graph with the same rules: text as a reader
    expects it, identical to the harness's hypotheses (`tokenizer.detokenize`)."""
    import keras

    import zoo
    from zoo.hub import export
    from zoo.text import features

    keras.utils.set_random_seed(3)
    model = zoo.build("transformer_tiny", vocabulary_size=cjk.vocabulary_size,
                      max_sequence_length=16, pad_id=cjk.pad_id, start_id=cjk.start_id,
                      end_id=cjk.end_id)
    export.export_model(model, tmp_path, tokenizer=cjk, parts=["translator"], recipe={
        "max_length": 16, "decoding": {"beam_width": 2, "max_length": 12,
                                       "max_source_length": 16}})
    translator = tf.saved_model.load(str(tmp_path / "translator"))
    exported = [t.decode() for t in translator(tf.constant(CJK_SENTENCES[:4])).numpy()]
    ids = features.sequence_ids(cjk, CJK_SENTENCES[:4], 16)
    harness = texts_of(cjk, model.generate(ids, max_length=12, beam_width=2))
    assert exported == harness
    assert sum(len(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]", t)) for t in exported) >= 8
    assert not any(CJK_PAIR.search(t) for t in exported), exported
