#!/usr/bin/env python3
"""Speed of zoo's models side by side with KerasHub's, and against this machine's limit.

    pip install -e .[bench]            # adds keras-hub (the package itself never needs it)
    python scripts/bench_performance.py [--quick] [--families gpt ...] [--only models ...]
                                        [--out perf.json]

In one process: a float32 matrix-multiply peak (FLOP/s), then for each family at a
tiny and a small size, training-step and inference throughput (examples/s and
tokens/s), peak memory (each model trained again in a fresh process) and MFU
(achieved FLOP/s / the measured peak) for zoo and for the same configuration built
from KerasHub (BertBackbone, ViTBackbone, a seq2seq model from
keras_hub.layers.TransformerEncoder/Decoder, and GPT2Backbone with GPT2CausalLM's tied output
projection), each trained with its library's Adam (zoo's fused update and Keras'; zoo's model
is timed with Keras' Adam too). Then the Transformer's greedy and beam decoding with and
without the key/value cache, GPT's greedy generation of 256 tokens with and without the cache
(and KerasHub's GPT2CausalLM.generate), and `import zoo` time on top of
`import tensorflow`. Warm-up is excluded; each figure is the median of repeated timings, the
rows compared taking turns within each round (zoo, KerasHub; float32, bfloat16);
ratios are zoo / KerasHub (above 1 means zoo is faster). Baselines: KerasHub, and the
matmul peak measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import zoo  # noqa: E402
from zoo.provenance import cpu_model, package_versions  # noqa: E402
from zoo.tasks import _losses as zoo_losses  # noqa: E402
from zoo.training import optimizers as zoo_optimizers  # noqa: E402

REPEATS = 5


def median_seconds(fn, steps, repeats=REPEATS, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def matmul_peak(n=2048):
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    f = tf.function(lambda: tf.matmul(a, b))
    seconds = median_seconds(lambda: f().numpy(), steps=5)
    return 2 * n**3 / seconds


def peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def forward_flops(model, inputs):
    """FLOPs of one forward pass, counted by TensorFlow's profiler on the traced graph."""
    spec = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), inputs)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops


# Each side trains with its library's Adam (the same hyperparameters) and cross-entropy: zoo's
# (what `zoo train` uses: zoo/training/optimizers.py, whose update is one fused kernel per
# variable, and zoo.tasks._losses.sparse_cross_entropy, from one softmax) and Keras' for KerasHub.
# zoo's model is also timed with Keras' Adam and loss ("same optimizer" column), so the
# model's share of the difference shows on its own.
OPTIMIZERS = {"zoo": lambda: zoo_optimizers.Adam(1e-4),
              "kerashub": lambda: keras.optimizers.Adam(1e-4)}
LOSSES = {"zoo": lambda: zoo_losses.sparse_cross_entropy,
          "kerashub": lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True)}


def compile_for_training(model, jit_compile, side="kerashub"):
    """`side`'s Adam and cross-entropy."""
    model.compile(optimizer=OPTIMIZERS[side](), loss=LOSSES[side](), jit_compile=jit_compile)


def interleaved_timings(fns, steps=5, repeats=REPEATS, warmup=2):
    """Seconds per call of each function in the dict `fns`, one value per round: the functions
    take turns within each of `repeats` rounds, so that a shared machine's slow spells fall on
    all of them alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            times[name].append((time.perf_counter() - start) / steps)
    return times


def interleaved_seconds(fns, steps=5, repeats=REPEATS, warmup=2):
    """The median over rounds of `interleaved_timings`."""
    times = interleaved_timings(fns, steps, repeats, warmup)
    return {name: statistics.median(values) for name, values in times.items()}


def summarize(batch, tokens_per_example, train, infer, executed_flops, model_flops=None):
    """Throughput and achieved FLOP/s of one model from its seconds per batch and its forward
    FLOPs per batch (`forward_flops`).

    `model_flops` is the architecture's work that the MFU counts, the same for both sides of a
    row: KerasHub's graph as TensorFlow's profiler counts it, the full computation. zoo's
    classifiers skip part of it (the last block runs at the pooled token only), and what they
    ran is `executed_flops`; the MFU does not shrink a faster model's credit by the work it
    avoided."""
    flops = executed_flops if model_flops is None else model_flops
    return {
        "train_examples_per_s": batch / train,
        "train_tokens_per_s": batch * tokens_per_example / train,
        "infer_examples_per_s": batch / infer,
        "forward_gflops_per_example": flops / batch / 1e9,
        "forward_gflops_executed_per_example": executed_flops / batch / 1e9,
        "train_flops_per_s": 3 * flops / train,
    }


def side_by_side(models, inputs, labels, jit_compile, infer_only=None):
    """Training seconds per batch of each `(model, optimizer side)` in the dict `models`, and
    inference seconds of those named in `infer_only` (default: all), interleaved."""
    for model, side in models.values():
        compile_for_training(model, jit_compile, side)
    train = interleaved_seconds({name: (lambda m=m: m.train_on_batch(inputs, labels))
                                 for name, (m, _) in models.items()})
    forward = {name: tf.function(lambda x, m=m: m(x, training=False), jit_compile=jit_compile)
               for name, (m, _) in models.items() if name in (infer_only or models)}
    infer = interleaved_seconds({name: (lambda f=f: tf.nest.map_structure(np.asarray, f(inputs)))
                                 for name, f in forward.items()})
    return train, infer


def memory_probe(family, size, side, jit):
    """Peak resident memory of training one model, each in a fresh process (in this one,
    TensorFlow keeps what earlier rows allocated): `peak_memory_mb` is the process's
    high-water mark over a few training steps; `peak_memory_over_import_mb` subtracts what
    the process held after importing TensorFlow, Keras and KerasHub."""
    command = [sys.executable, os.path.abspath(__file__), "--memory-probe", family, size, side]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(command + (["--jit"] if jit else []), capture_output=True,
                          text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"memory probe {family} {size} {side} failed:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1])


def _memory_probe_main(family, size, side, jit):
    import keras_hub  # noqa: F401  (counted in the baseline, as both sides import it)

    baseline = peak_rss_mb()
    builders, x, y, _ = dict(FAMILIES)[family](size)
    model = builders[side]()
    compile_for_training(model, jit, side)
    for _ in range(3):
        model.train_on_batch(x, y)
    peak = peak_rss_mb()
    print(json.dumps({"peak_memory_mb": peak, "peak_memory_over_import_mb": peak - baseline}))


# --- Model pairs ---------------------------------------------------------------------------

SIZES = {
    "bert": {"tiny": dict(num_layers=2, hidden_dim=128, num_heads=2, intermediate_dim=512),
             "small": dict(num_layers=4, hidden_dim=512, num_heads=8, intermediate_dim=2048)},
    "vit": {"tiny": dict(num_layers=6, hidden_dim=64, num_heads=4, intermediate_dim=128),
            "small": dict(num_layers=8, hidden_dim=192, num_heads=4, intermediate_dim=384)},
    "transformer": {"tiny": dict(layers=2, hidden_dim=64, num_heads=4, intermediate_dim=256),
                    "small": dict(layers=3, hidden_dim=256, num_heads=4, intermediate_dim=1024)},
    # nanoGPT's character-level Shakespeare models: gpt_char_small and gpt_char_base.
    "gpt": {"tiny": dict(num_layers=4, hidden_dim=128, num_heads=4, intermediate_dim=512),
            "small": dict(num_layers=6, hidden_dim=384, num_heads=6, intermediate_dim=1536)},
}


def bert_pair(size, batch, seq, vocab=30522):
    import keras_hub

    cfg = SIZES["bert"][size]
    rng = np.random.default_rng(0)
    ids = rng.integers(5, vocab, (batch, seq)).astype("int32")
    x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": np.ones_like(ids)}
    y = rng.integers(0, 2, batch)
    def ours():
        return zoo.build("bert_tiny", task="classifier", num_classes=2, vocabulary_size=vocab,
                         dropout=0.0, classifier_dropout=0.0, **cfg)

    def theirs():
        backbone = keras_hub.models.BertBackbone(vocabulary_size=vocab, dropout=0.0, **cfg)
        inputs = {k: keras.Input((None,), dtype="int32", name=k) for k in x}
        return keras.Model(inputs, keras.layers.Dense(2)(backbone(inputs)["pooled_output"]))

    return {"zoo": ours, "kerashub": theirs}, x, y, seq


def vit_pair(size, batch, image=28, patch=4):
    import keras_hub

    cfg = SIZES["vit"][size]
    x = np.random.default_rng(0).random((batch, image, image, 1)).astype("float32")
    y = np.arange(batch) % 10
    def ours():
        return zoo.build("vit_tiny_patch4_28", dropout=0.0, **cfg)

    def theirs():
        backbone = keras_hub.models.ViTBackbone(
            image_shape=(image, image, 1), patch_size=patch, num_layers=cfg["num_layers"],
            num_heads=cfg["num_heads"], hidden_dim=cfg["hidden_dim"],
            mlp_dim=cfg["intermediate_dim"])
        inp = keras.Input((image, image, 1))
        return keras.Model(inp, keras.layers.Dense(10)(backbone(inp)[:, 0]))

    return {"zoo": ours, "kerashub": theirs}, x, y, (image // patch) ** 2


def transformer_pair(size, batch, seq, vocab=8000):
    import keras_hub

    cfg = SIZES["transformer"][size]
    rng = np.random.default_rng(0)
    src = rng.integers(3, vocab, (batch, seq)).astype("int32")
    tgt = rng.integers(3, vocab, (batch, seq)).astype("int32")
    x = {"encoder_token_ids": src, "decoder_token_ids": tgt}
    def ours():
        return zoo.build("transformer_tiny", vocabulary_size=vocab,
                         num_encoder_layers=cfg["layers"], num_decoder_layers=cfg["layers"],
                         hidden_dim=cfg["hidden_dim"], num_heads=cfg["num_heads"],
                         intermediate_dim=cfg["intermediate_dim"], dropout=0.0,
                         max_sequence_length=seq, normalize_first=True)

    def theirs():
        enc_in = keras.Input((None,), dtype="int32", name="encoder_token_ids")
        dec_in = keras.Input((None,), dtype="int32", name="decoder_token_ids")
        embed = keras_hub.layers.TokenAndPositionEmbedding(vocab, seq, cfg["hidden_dim"])
        h = embed(enc_in)
        for _ in range(cfg["layers"]):
            h = keras_hub.layers.TransformerEncoder(cfg["intermediate_dim"], cfg["num_heads"],
                                                    normalize_first=True)(h)
        d = embed(dec_in)
        for _ in range(cfg["layers"]):
            d = keras_hub.layers.TransformerDecoder(cfg["intermediate_dim"], cfg["num_heads"],
                                                    normalize_first=True)(d, h)
        return keras.Model({"encoder_token_ids": enc_in, "decoder_token_ids": dec_in},
                           keras.layers.Dense(vocab)(d))

    return {"zoo": ours, "kerashub": theirs}, x, tgt, seq


def gpt_pair(size, batch, seq, vocab=67):
    """zoo's `GPTCausalLM` and KerasHub's `GPT2Backbone` with GPT2CausalLM's head (logits from
    the tied token embedding), both on token ids alone (KerasHub's padding mask is all ones,
    made inside its model) with the next tokens as labels; GPT-2's tanh GELU on both sides."""
    import keras_hub

    cfg = SIZES["gpt"][size]
    rng = np.random.default_rng(0)
    stream = rng.integers(1, vocab, (batch, seq + 1)).astype("int32")

    def ours():
        return zoo.build("gpt_char_small", vocabulary_size=vocab, max_sequence_length=seq,
                         dropout=0.0, **cfg)

    def theirs():
        backbone = keras_hub.models.GPT2Backbone(vocabulary_size=vocab, max_sequence_length=seq,
                                                 dropout=0.0, **cfg)
        ids = keras.Input((None,), dtype="int32", name="token_ids")
        hidden = backbone({"token_ids": ids, "padding_mask": keras.ops.ones_like(ids)})
        return keras.Model(ids, backbone.token_embedding(hidden, reverse=True))

    return {"zoo": ours, "kerashub": theirs}, stream[:, :-1], stream[:, 1:], seq


def gpt_generation(batch=4, prompt=16, new_tokens=256, size="small"):
    """Tokens/s of greedy generation of `new_tokens` tokens after `prompt`-token prompts:
    zoo's `generate` with the key/value cache (its default) and without (re-running the whole
    sequence each step), and KerasHub's `GPT2CausalLM.generate` (cached, greedy sampler,
    no XLA as zoo's), at the same size; medians of three interleaved rounds."""
    import keras_hub

    cfg, vocab, length = SIZES["gpt"][size], 67, prompt + new_tokens
    model = zoo.build("gpt_char_small", vocabulary_size=vocab, max_sequence_length=length,
                      dropout=0.0, **cfg)
    ids = np.random.default_rng(0).integers(1, vocab, (batch, prompt)).astype("int32")
    backbone = keras_hub.models.GPT2Backbone(vocabulary_size=vocab, max_sequence_length=length,
                                             dropout=0.0, **cfg)
    theirs = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    theirs.compile(sampler="greedy", jit_compile=False)
    padded = np.zeros((batch, length), "int32")
    padded[:, :prompt] = ids
    mask = np.arange(length)[None, :].repeat(batch, 0) < prompt
    runs = {
        "cached": lambda: model.generate(ids, max_new_tokens=new_tokens).numpy(),
        "uncached": lambda: model.generate(ids, max_new_tokens=new_tokens,
                                           use_cache=False).numpy(),
        "kerashub_cached": lambda: theirs.generate({"token_ids": padded, "padding_mask": mask},
                                                   stop_token_ids=None),
    }
    seconds = interleaved_seconds(runs, steps=1, repeats=3, warmup=1)
    rows = {name: batch * new_tokens / seconds[name] for name in runs}
    rows["cache_speedup"] = rows["cached"] / rows["uncached"]
    rows["ratio_kerashub_cached"] = rows["cached"] / rows["kerashub_cached"]
    return rows


def build_under(policy, build):
    """A model built with `policy` as Keras' dtype policy (mixed precision is chosen when
    layers are built); the global policy is put back afterwards."""
    keras.config.set_dtype_policy(policy)
    try:
        return build()
    finally:
        keras.config.set_dtype_policy("float32")


def precision_rows(families, size="small"):
    """zoo's training throughput under mixed_bfloat16 against float32, same model and batch,
    timed interleaved."""
    rows = []
    for family, make in families:
        builders, x, y, tokens = make(size)
        models = {}
        for policy in ("float32", "mixed_bfloat16"):
            model = build_under(policy, builders["zoo"])
            keras.config.set_dtype_policy(policy)
            try:  # compiled and traced under its policy
                compile_for_training(model, False, "zoo")
                model.train_on_batch(x, y)
            finally:
                keras.config.set_dtype_policy("float32")
            models[policy] = (model, "zoo")
        train, infer = side_by_side(models, x, y, False)
        tensors = tf.nest.map_structure(tf.convert_to_tensor, x)
        result = {policy: summarize(len(y), tokens, train[policy], infer[policy],
                                    forward_flops(models[policy][0], tensors))
                  for policy in models}
        ratio = (result["mixed_bfloat16"]["train_examples_per_s"]
                 / result["float32"]["train_examples_per_s"])
        print(f"{family + '_' + size:<18}float32 {result['float32']['train_examples_per_s']:>9,.1f}"
              f" ex/s   mixed_bfloat16 {result['mixed_bfloat16']['train_examples_per_s']:>9,.1f}"
              f" ex/s   ratio {ratio:.2f}", flush=True)
        rows.append({"family": family, "size": size, **result, "ratio_bf16_train": ratio})
    return rows


def precision_training_check(entry="vit_tiny_patch2_8.digits", benchmark="digits"):
    """A short real training run per precision, each scored on its benchmark with intervals."""
    import tempfile

    from zoo.harness import runner

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for policy in ("float32", "mixed_bfloat16"):
            started = time.perf_counter()
            result = zoo.train(entry, out=os.path.join(tmp, policy), precision=policy,
                               log=lambda *a, **k: None)
            seconds = time.perf_counter() - started
            keras.config.set_dtype_policy("float32")
            from zoo.training import recipes

            record, _ = runner.run(recipes.get(entry).model, benchmark, weights=result["run_dir"],
                                   results_dir=os.path.join(tmp, "results"), progress=False)
            main = record["main_metric"]
            out[policy] = {"training_seconds": seconds, "metric": main["name"],
                           "value": main["value"], "low": main["low"], "high": main["high"]}
            print(f"{entry} trained in {policy}: {seconds:,.1f} s, {main['name']} "
                  f"{main['value']:.4f} [{main['low']:.4f}, {main['high']:.4f}]", flush=True)
    a, b = out["float32"], out["mixed_bfloat16"]
    out["within_interval"] = a["low"] <= b["value"] <= a["high"]
    print(f"  mixed_bfloat16 within float32's interval: {out['within_interval']}; "
          f"training time ratio float32/bf16 {a['training_seconds'] / b['training_seconds']:.2f}")
    return out


def harness_overhead(entry, benchmark, data_dir=None, batch_size=64, repeats=5):
    """A whole `zoo bench run` (load data and model, predict, score with bootstrap intervals,
    write the record) against baselines over the same examples held in memory, batch for
    batch: the model's warm forward pass (loaded and traced beforehand) called batch by batch
    (the goal's baseline), the same warm forward two batches at once as the harness runs it
    (`zoo.tasks._evaluation.ahead`: the strictest, it differs from the whole run only by loading, tracing,
    data and scoring), and a cold `model.predict` on a freshly loaded model (one trace
    included, as in any single run). Medians over `repeats` interleaved rounds."""
    import tempfile

    from zoo.harness import benchmarks, runner
    from zoo.tasks import _evaluation

    folder = zoo.entries.folder(entry)
    model_name = json.loads((folder / "recipe.json").read_text())["model"]
    examples = runner._load_examples(benchmarks.get(benchmark), data_dir, False)
    records = []

    def whole_run():
        with tempfile.TemporaryDirectory() as tmp:
            records.append(runner.run(model_name, benchmark, weights=folder,
                                      batch_size=batch_size, data_dir=data_dir,
                                      results_dir=tmp, progress=False)[0])

    def cold_predict():
        zoo.entries.load(entry).predict(examples.inputs, batch_size=batch_size, verbose=0)

    model = zoo.entries.load(entry)
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    batches = [examples.inputs[i:i + batch_size]
               for i in range(0, len(examples.inputs), batch_size)]

    def bare_pass():
        for b in batches:
            np.asarray(forward(b))

    def bare_ahead():
        for _ in _evaluation.ahead(lambda b: np.asarray(forward(b)), enumerate(batches)):
            pass

    # Each whole run and cold predict is cold (model loaded, one trace). The four are
    # interleaved, one of each per round, so that a shared machine's slow spells fall on
    # all of them alike; medians over the rounds, and the median of each round's ratio.
    bare_pass()
    bare_ahead()
    timings = interleaved_timings({"whole": whole_run, "bare": bare_pass,
                                   "bare_ahead": bare_ahead, "cold": cold_predict},
                                  steps=1, repeats=repeats, warmup=0)
    whole, cold, bare, ahead = (statistics.median(timings[k])
                                for k in ("whole", "cold", "bare", "bare_ahead"))
    round_ratio = statistics.median(w / b for w, b in zip(timings["whole"], timings["bare"]))
    record = records[-1]
    print(f"harness: {entry} on {benchmark} ({len(examples.inputs):,} examples, batch "
          f"{batch_size}): whole run {whole:.2f} s; bare warm forward batch by batch "
          f"{bare:.2f} s (ratio {whole / bare:.2f}); two batches at once {ahead:.2f} s (ratio "
          f"{whole / ahead:.2f}); cold model.predict {cold:.2f} s (ratio {whole / cold:.2f}); "
          f"median of the {repeats} rounds' whole/warm ratios {round_ratio:.2f}. Last record: "
          f"model {record['throughput']['model_seconds']:.2f} s, wall "
          f"{record['throughput']['wall_seconds']:.2f} s", flush=True)
    return {"entry": entry, "benchmark": benchmark, "examples": len(examples.inputs),
            "whole_seconds": whole, "bare_warm_seconds": bare, "bare_warm_ahead_seconds": ahead,
            "cold_predict_seconds": cold, "ratio_warm": whole / bare,
            "ratio_warm_ahead": whole / ahead, "ratio_cold_predict": whole / cold,
            "ratio_warm_median_of_rounds": round_ratio, "rounds": timings}


def decoding(batch=8, src_len=16, out_len=64):
    """Tokens/s of greedy and beam-4 search: with the key/value cache as `generate` runs it by
    default (XLA-compiled loop), the cache without XLA, and re-running the prefix (uncached)."""
    model = zoo.build("transformer_small", vocabulary_size=8000, end_id=0, dropout=0.0)
    # end_id = pad_id, which decoding never emits: every row runs the full out_len steps.
    src = np.random.default_rng(0).integers(3, 8000, (batch, src_len)).astype("int32")
    rows = {}
    for beam in (1, 4):
        for name, options in (("cached", {}), ("cached_no_xla", {"jit_compile": False}),
                              ("uncached", {"use_cache": False})):
            seconds = median_seconds(
                lambda b=beam, o=options: model.generate(src, max_length=out_len, beam_width=b,
                                                         **o).numpy(), steps=1, repeats=3)
            rows[f"beam{beam}_{name}"] = batch * out_len / seconds
    return rows


def import_time():
    code = ("import time, tensorflow; t = time.perf_counter(); import zoo; "
            "print(time.perf_counter() - t)")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    values = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   env=env, cwd=os.path.dirname(zoo.__path__[0])).stdout)
              for _ in range(3)]
    return statistics.median(values)


SECTIONS = ("models", "decoding", "harness", "precision", "import")
# precision runs after decoding: its training runs turn on op determinism, which turns
# off generate's default XLA.
FAMILIES = (("bert", lambda s: bert_pair(s, 32, 128)),
            ("vit", lambda s: vit_pair(s, 64)),
            ("transformer", lambda s: transformer_pair(s, 32, 32)),
            # gpt tiny: gpt_char_small's recipe context; small: gpt_char_base's context, at a
            # quarter of its recipe's batch of 64.
            ("gpt", lambda s: gpt_pair(s, 32, 64) if s == "tiny" else gpt_pair(s, 16, 256)))


def model_rows(families, sizes, peak, jit):
    rows = []
    print(f"{'model':<18}{'side':<9}{'train ex/s':>11}{'tokens/s':>11}{'infer ex/s':>11}"
          f"{'MFU':>7}{'mem MB':>9}{'ratio train':>12}{'ratio infer':>12}{'same opt':>11}")
    for family, make in families:
        for size in sizes:
            builders, x, y, tokens = make(size)
            models = {"zoo": (builders["zoo"](), "zoo"),
                      "kerashub": (builders["kerashub"](), "kerashub"),
                      "zoo_keras_adam": (builders["zoo"](), "kerashub")}
            train, infer = side_by_side(models, x, y, jit, infer_only=("zoo", "kerashub"))
            tensors = tf.nest.map_structure(tf.convert_to_tensor, x)
            flops = {side: forward_flops(models[side][0], tensors) for side in ("zoo", "kerashub")}
            result = {}
            for side in ("zoo", "kerashub"):
                result[side] = summarize(len(y), tokens, train[side], infer[side], flops[side],
                                         model_flops=flops["kerashub"])
                result[side]["mfu"] = result[side]["train_flops_per_s"] / peak
                result[side].update(memory_probe(family, size, side, jit))
            same = len(y) / train["zoo_keras_adam"]
            result["zoo"]["train_examples_per_s_keras_adam"] = same
            ratio_train = (result["zoo"]["train_examples_per_s"]
                           / result["kerashub"]["train_examples_per_s"])
            ratio_same = same / result["kerashub"]["train_examples_per_s"]
            ratio_infer = (result["zoo"]["infer_examples_per_s"]
                           / result["kerashub"]["infer_examples_per_s"])
            for side in ("zoo", "kerashub"):
                r = result[side]
                extra = (f"{ratio_train:>12.2f}{ratio_infer:>12.2f}{ratio_same:>11.2f}"
                         if side == "zoo" else "")
                print(f"{family + '_' + size:<18}{side:<9}{r['train_examples_per_s']:>11,.1f}"
                      f"{r['train_tokens_per_s']:>11,.0f}{r['infer_examples_per_s']:>11,.1f}"
                      f"{r['mfu']:>7.1%}{r['peak_memory_over_import_mb']:>9,.0f}{extra}",
                      flush=True)
            rows.append({"family": family, "size": size, **result, "ratio_train": ratio_train,
                         "ratio_train_same_optimizer": ratio_same, "ratio_infer": ratio_infer})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes only")
    parser.add_argument("--jit", action="store_true", help="compile with XLA")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="sections to run (default: all)")
    parser.add_argument("--families", nargs="+", choices=[f for f, _ in FAMILIES],
                        default=[f for f, _ in FAMILIES],
                        help="families of the models, decoding and precision sections "
                        "(default: all)")
    parser.add_argument("--harness-entry", default="vit_tiny_patch4_28.mnist",
                        help="entry whose benchmark run is timed against bare inference")
    parser.add_argument("--harness-benchmark", default="mnist")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding the harness benchmark's data files")
    parser.add_argument("--out", default="perf.json", help="JSON report path")
    parser.add_argument("--memory-probe", nargs=3, metavar=("FAMILY", "SIZE", "SIDE"),
                        help=argparse.SUPPRESS)  # one row's memory, run in a subprocess
    args = parser.parse_args()
    if args.memory_probe:
        return _memory_probe_main(*args.memory_probe, args.jit)
    keras.utils.set_random_seed(0)
    peak = matmul_peak()
    print(f"matmul peak (float32, 2048^3): {peak / 1e9:,.1f} GFLOP/s on {cpu_model()}, "
          f"{os.cpu_count()} cores, intra-op threads "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}")
    report = {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                          "python": platform.python_version(), "packages": package_versions()},
              "matmul_peak_flops": peak, "jit_compile": args.jit,
              "command": " ".join(["python"] + sys.argv)}
    families = [pair for pair in FAMILIES if pair[0] in args.families]
    if "models" in args.only:
        report["rows"] = model_rows(families, ["tiny"] if args.quick else ["tiny", "small"],
                                    peak, args.jit)
    if "decoding" in args.only and "gpt" in args.families:
        generation = gpt_generation()
        print("gpt generation tokens/s (gpt_char_base layout, batch 4, 16-token prompts, 256 new "
              "tokens, greedy): " + ", ".join(f"{k} {generation[k]:,.0f}" for k in (
                  "cached", "uncached", "kerashub_cached")))
        print(f"  cache speed-up {generation['cache_speedup']:.2f}x (bar: 3x); zoo / KerasHub "
              f"cached {generation['ratio_kerashub_cached']:.2f}", flush=True)
        report["gpt_generation_tokens_per_s"] = generation
    if "decoding" in args.only and "transformer" in args.families:
        decode = decoding()
        print("decoding tokens/s (transformer_small, batch 8, 64 output tokens): " + ", ".join(
            f"{k} {v:,.0f}" for k, v in decode.items()))
        print(f"  cache speed-up greedy {decode['beam1_cached'] / decode['beam1_uncached']:.2f}x"
              f" (without XLA {decode['beam1_cached_no_xla'] / decode['beam1_uncached']:.2f}x),"
              f" beam-4 cost vs greedy {decode['beam1_cached'] / decode['beam4_cached']:.2f}x")
        report["decoding_tokens_per_s"] = decode
    if "harness" in args.only:
        report["harness"] = harness_overhead(args.harness_entry, args.harness_benchmark,
                                             args.data_dir)
    if "precision" in args.only:
        report["precision"] = precision_rows(families, "tiny" if args.quick else "small")
        report["precision_training"] = precision_training_check()
    if "import" in args.only:
        seconds = import_time()
        print(f"import zoo after import tensorflow: {seconds:.3f} s")
        report["import_zoo_seconds"] = seconds
    from zoo import atomic

    atomic.write_json(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
