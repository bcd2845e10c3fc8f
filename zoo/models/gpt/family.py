"""The GPT family: a decoder-only causal language model (see `zoo.models.family`)."""

from zoo.models.family import Converter, Family, Fixtures, Head, Part
from zoo.models.gpt import presets


def _example_inputs(model, batch=3, seed=0):
    """Token ids and a padding mask, the first row padded on the left (as prompts are)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    config = model.get_config()
    ids = rng.integers(1, config["vocabulary_size"], size=(batch, 9)).astype("int32")
    mask = np.ones_like(ids, dtype=bool)
    ids[0, :3], mask[0, :3] = config["pad_id"], False
    return {"token_ids": ids, "padding_mask": mask}


def _training_batch(model, batch=8, seed=0):
    """Windows of a token stream: the inputs and the next tokens, as the language-modelling
    task cuts them."""
    import keras
    import numpy as np

    rng = np.random.default_rng(seed)
    stream = rng.integers(1, model.get_config()["vocabulary_size"], size=(batch, 11))
    stream = stream.astype("int32")
    return stream[:, :-1], stream[:, 1:], keras.losses.SparseCategoricalCrossentropy(
        from_logits=True)


FAMILY = Family(
    name="gpt",
    paper=presets.PAPER,
    presets=presets.PRESETS,
    heads={"causal_lm": Head("zoo.models.gpt.gpt:GPTCausalLM", needs_tokenizer=True, parts={
        "generator": Part("zoo.models.gpt.export:generator",
                          "strings -> generated strings (tokenize, cached greedy or seeded "
                          "top-k/top-p sampling, detokenize in the graph); `log_probs(texts)` "
                          "-> per-token log-probabilities"),
    })},
    default_head="causal_lm",
    serves={"language_modeling": "causal_lm"},
    fixtures=Fixtures(
        tiny={"gpt_tiny": {}},
        cases=(("gpt_tiny", None, {}),
               ("gpt_tiny", None, {"num_layers": 1, "tie_embeddings": False,
                                   "activation": "relu", "dropout": 0.1})),
        example_inputs=_example_inputs,
        training_batch=_training_batch,
    ),
    converters=(Converter("transformers", ("GPT2LMHeadModel", "GPT2Model", "gpt2"),
                          "zoo.models.gpt.convert:load_transformers"),),
    hf_export="zoo.models.gpt.convert:to_transformers",
)
