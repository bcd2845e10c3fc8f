"""A/B of zoo's projections in one process: the einsum form (the baseline, zoo before
2026-11-24) against the flattened two-dimensional matmul of `zoo/layers/projection.py`, with
KerasHub's model of the same config alongside. Rounds are interleaved, so a shared machine's
slow spells fall on all three alike; medians of per-round milliseconds per `train_on_batch`.

    pip install -e .[bench]
    python scripts/bench_projection.py vit small              # family, size (tiny, small)
    python scripts/bench_projection.py vit small --rounds 5 --policy mixed_bfloat16
"""

import argparse
import os
import statistics
import sys

import keras
from keras import ops

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_performance as bench  # noqa: E402

import zoo.layers.attention as attention  # noqa: E402
import zoo.layers.feed_forward as feed_forward  # noqa: E402
from zoo.layers.projection import project  # noqa: E402


def einsum_project(dense, x, dtype, in_axes=1, out_shape=None, activation=None):
    """The baseline: the same map as one einsum with a broadcast kernel (`project`'s
    arguments; the activation, `dense`'s or the one given, applied after)."""
    kernel, bias = ops.cast(dense.kernel, dtype), ops.cast(dense.bias, dtype)
    x = ops.cast(x, dtype)
    if in_axes == 2:
        heads, head_dim = x.shape[-2:]
        y = ops.einsum("bsnh,nhd->bsd", x, ops.reshape(kernel, (heads, head_dim, -1))) + bias
    elif out_shape:
        kernel = ops.reshape(kernel, (-1, *out_shape))
        y = ops.einsum("bsd,dnh->bsnh", x, kernel) + ops.reshape(bias, out_shape)
    elif len(x.shape) == 3:
        y = ops.einsum("bsd,de->bse", x, kernel) + bias
    else:
        y = ops.matmul(x, kernel) + bias
    return (activation or dense.activation)(y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("family", choices=[f for f, _ in bench.FAMILIES])
    parser.add_argument("size", choices=["tiny", "small"])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--policy", default="float32")
    args = parser.parse_args()
    builders, x, y, _ = dict(bench.FAMILIES)[args.family](args.size)
    models = {}
    for name, fn in (("einsum", einsum_project), ("matmul2d", project), ("kerashub", None)):
        attention.project = feed_forward.project = fn or project
        model = bench.build_under(args.policy, builders["kerashub" if fn is None else "zoo"])
        keras.config.set_dtype_policy(args.policy)
        bench.compile_for_training(model, False)
        for _ in range(3):
            model.train_on_batch(x, y)
        keras.config.set_dtype_policy("float32")
        models[name] = model
    attention.project = feed_forward.project = project
    times = bench.interleaved_timings(
        {name: (lambda m=m: m.train_on_batch(x, y)) for name, m in models.items()},
        steps=3, repeats=args.rounds, warmup=0)
    times = {name: [t * 1000 for t in values] for name, values in times.items()}
    baseline = statistics.median(times["einsum"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{args.family} {args.size} {args.policy} {name:<9} median {median:7.1f} ms  "
              f"min {min(values):7.1f}  (einsum / this: {baseline / median:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
