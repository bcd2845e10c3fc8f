"""Every registered variant has the parameter count its preset documents, and the
canonical sizes have the counts of the papers' reference code."""

import pytest

import zoo

CANONICAL = {
    "bert_base": 109_482_240,
    "bert_tiny": 4_385_920,
    "gpt2_small": 124_439_808,
    "vit_base_patch16_224": 86_567_656,
    "vit_small_patch16_224": 22_050_664,
    "vit_tiny_patch16_224": 5_717_416,
}
LARGE = {"bert_base", "vit_base_patch16_224", "transformer_big", "transformer_base",
         "gpt2_small"}


def test_canonical_counts_are_documented():
    for name, count in CANONICAL.items():
        assert zoo.describe(name)["params"] == count


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in LARGE else n for n in zoo.list_models()],
)
def test_built_model_has_documented_parameter_count(name):
    if zoo.describe(name)["params"] is None:
        pytest.skip(f"{name} is built on TF Hub handles: its size is the handle's (test_hub)")
    model = zoo.build(name)
    assert model.count_params() == zoo.describe(name)["params"]


def test_transformer_base_is_the_papers_size():
    # Shared 37k vocabulary with tied embeddings: the paper's ~63-65M (its Table 3 says 65M).
    params = zoo.describe("transformer_base")["params"]
    assert 63_000_000 <= params <= 65_000_000
    embedding = 37_000 * 512
    encoder_layer = 4 * (512 * 512 + 512) + (512 * 2048 + 2048) + (2048 * 512 + 512) + 2 * 1024
    decoder_layer = encoder_layer + 4 * (512 * 512 + 512) + 1024
    assert params == embedding + 6 * encoder_layer + 6 * decoder_layer
