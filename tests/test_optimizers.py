"""zoo's fused Adam and AdamW against Keras' own: same trajectory, same checkpoints."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.training import optimizers, strategies


def _model():
    """An embedding (sparse gradients) and a dense layer, with fixed weights."""
    inputs = keras.Input((4,), dtype="int32")
    x = keras.layers.Embedding(20, 8)(inputs)
    outputs = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling1D()(x))
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    return model


def _train(optimizer, steps=8, strategy=None):
    strategy = strategy or tf.distribute.get_strategy()
    rng = np.random.default_rng(1)
    x = rng.integers(0, 20, (16, 4)).astype("int32")
    y = rng.integers(0, 3, 16)
    with strategy.scope():
        model, opt = _model(), optimizer()
        model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True))
    for _ in range(steps):
        model.train_on_batch(x, y)
    return model, opt


SCHEDULE = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=3, decay_rate=0.5)


@pytest.mark.parametrize("ours, theirs, kwargs", [
    (optimizers.Adam, keras.optimizers.Adam, {"learning_rate": 0.05}),
    (optimizers.Adam, keras.optimizers.Adam, {"learning_rate": SCHEDULE, "beta_2": 0.98,
                                              "epsilon": 1e-6, "global_clipnorm": 1.0}),
    (optimizers.AdamW, keras.optimizers.AdamW, {"learning_rate": 0.05, "weight_decay": 0.1}),
])
def test_fused_update_follows_keras(ours, theirs, kwargs):
    a, opt_a = _train(lambda: ours(**kwargs))
    b, opt_b = _train(lambda: theirs(**kwargs))
    for u, v, start in zip(a.get_weights(), b.get_weights(), _model().get_weights()):
        assert not np.allclose(u, start)  # trained
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)
    for u, v in zip(opt_a.variables, opt_b.variables):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-4, atol=1e-6)


def test_fused_update_under_mirrored_strategy_follows_keras():
    """Each replica's update goes to its own copy of the variables and slots."""
    mirrored = strategies.make("mirrored", devices=["/cpu:0", "/cpu:1"])
    a, _ = _train(lambda: optimizers.AdamW(learning_rate=0.05, weight_decay=0.1), strategy=mirrored)
    b, _ = _train(lambda: keras.optimizers.AdamW(learning_rate=0.05, weight_decay=0.1),
                  strategy=mirrored)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-4, atol=1e-5)
    for weight in a.trainable_weights:
        first, second = (np.asarray(t) for t in weight.value.values)
        np.testing.assert_array_equal(first, second)


def test_a_keras_adamw_checkpoint_resumes_into_the_fused_one(tmp_path):
    """Run folders written before zoo had its own AdamW still resume."""
    model, opt = _train(lambda: keras.optimizers.AdamW(learning_rate=0.05, weight_decay=0.1))
    path = tf.train.Checkpoint(model=model, optimizer=opt).save(str(tmp_path / "ckpt"))
    fresh = _model()
    ours = optimizers.AdamW(learning_rate=0.05, weight_decay=0.1)
    ours.build(fresh.trainable_variables)
    tf.train.Checkpoint(model=fresh, optimizer=ours).restore(path).assert_existing_objects_matched()
    assert int(ours.iterations.numpy()) == 8
    for u, v in zip(ours.variables, opt.variables):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_amsgrad_takes_keras_update():
    a, _ = _train(lambda: optimizers.Adam(learning_rate=0.05, amsgrad=True))
    b, _ = _train(lambda: keras.optimizers.Adam(learning_rate=0.05, amsgrad=True))
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("make, fused", [
    (lambda: optimizers.AdamW(learning_rate=0.05, weight_decay=0.1), True),
    (lambda: optimizers.Adam(learning_rate=0.05, amsgrad=True), False),
])
def test_the_update_is_one_fused_op_per_variable(make, fused):
    model, opt = _model(), make()
    opt.build(model.trainable_variables)
    x = np.zeros((2, 4), "int32")

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables))

    graph = step.get_concrete_function().graph
    names = [op.type for op in graph.get_operations()]
    names += [node.op for f in graph.as_graph_def().library.function for node in f.node_def]
    assert names.count("ResourceApplyAdam") == (len(model.trainable_variables) if fused else 0)
