"""Every model class saves to `.keras` and loads back with identical outputs, with
Keras' safe mode on and no custom objects from the caller."""

import keras
import numpy as np
import pytest
from helpers import (
    MODEL_CASES,
    as_numpy,
    assert_outputs_equal,
    build_case,
    case_id,
    cases_by_cost,
    config_round_trip,
    example_inputs,
    run_in_fresh_python,
)

import zoo


@pytest.mark.parametrize("case", MODEL_CASES, ids=case_id)
def test_config_round_trips_through_json(case):
    config_round_trip(build_case(case))


@pytest.mark.parametrize("case", cases_by_cost(MODEL_CASES))
def test_save_and_load_give_identical_outputs(case, tmp_path):
    model = build_case(case)
    x = example_inputs(model)
    expected = model(x, training=False)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = zoo.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    assert_outputs_equal(loaded(x, training=False), expected)
    plain = keras.saving.load_model(path, safe_mode=True)  # the family is registered now
    assert_outputs_equal(plain(x, training=False), expected)
    if isinstance(x, dict) and "encoder_token_ids" in x:  # a translator (GPT: test_gpt)
        src = x["encoder_token_ids"]
        np.testing.assert_array_equal(
            loaded.generate(src, max_length=6, beam_width=2).numpy(),
            model.generate(src, max_length=6, beam_width=2).numpy(),
        )


@pytest.mark.multiprocess
def test_load_in_a_fresh_process_without_custom_objects(tmp_path):
    model = zoo.build("vit_tiny_patch2_8", num_layers=1)
    x = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", as_numpy(model(x)))
    model.save(tmp_path / "m.keras")
    out = run_in_fresh_python(f"""
        import numpy as np, zoo
        model = zoo.load_model({str(tmp_path / "m.keras")!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        print(float(np.abs(model(x).numpy() - np.load({str(tmp_path / "y.npy")!r})).max()))
    """)
    assert float(out.strip().splitlines()[-1]) == 0.0
