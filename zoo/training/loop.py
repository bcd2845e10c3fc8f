"""One training loop for every `tf.distribute` strategy, with checkpoints that survive a kill.

The loop is `strategy.run` over `strategy.experimental_distribute_dataset` with Keras 3 models
and optimizers (Keras 3's `model.fit` does not run under `MultiWorkerMirroredStrategy`,
keras-team/keras#20585). The model and optimizer are built inside `strategy.scope()`; each
replica's loss is averaged over the *global* batch and the loop sums the gradients across
replicas *before* the optimizer sees them, so that everything the optimizer does to a gradient
(`clipnorm`, `global_clipnorm`, `clipvalue`, a `LossScaleOptimizer`'s unscaling and finite
check) acts on the global batch's gradient: a step is the same for any replica count (in
float32 and bfloat16; under `mixed_float16` each replica's float16 arithmetic over its part of
the batch can overflow where one device's does not, or the reverse). (Keras'
own TensorFlow optimizers clip each replica's part and sum afterwards; Keras' gradient
accumulation cannot run over several replicas and is refused there with a reason.)
Under `ParameterServerStrategy` the same step is scheduled on the workers by a
`ClusterCoordinator` (each step one worker's batch, applied asynchronously to the variables on
the parameter servers).

Every random draw of a step is a function of the run's seed and the step: at the start of step
`s` each `keras.random.SeedGenerator` of the model (dropout's, the VAE's noise) is set to a
state drawn statelessly from `(seed, s)`, different for each generator and each replica; the
input pipeline's shuffling, augmentation and masking are functions of the seed and the batch's
position (see `inputs`). (Each replica draws its own dropout masks, so with dropout a step on
two replicas equals a one-device step in distribution, not bit for bit; under
`ParameterServerStrategy` steps run asynchronously and workers shuffle with their own seeds.)

Every `checkpoint_every` steps (and at the end) the model and optimizer state go to a
`tf.train.CheckpointManager`; a process killed at any point and started again resumes from the
newest checkpoint, reads the batches an uninterrupted run would have read, draws the same
dropout and noise, and ends with the same weights, bit for bit. A NaN or infinite loss stops
the run before the damaged weights are saved, keeping the last good checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from zoo.training.errors import TrainingError
from zoo.training.strategies import is_chief, is_parameter_server


@dataclass
class LoopResult:
    model: object
    steps: int
    resumed_from: int
    history: list
    seconds: float


def _worker_checkpoint_dir(strategy, directory: Path) -> Path:
    """The chief writes `directory`; other workers write a private folder deleted afterwards
    (every worker must take part in a save)."""
    if is_chief(strategy):
        return directory
    task_id = strategy.cluster_resolver.task_id
    return directory.parent / f".{directory.name}-worker{task_id}"


def _seed_generators(model) -> list:
    """Every `keras.random.SeedGenerator` of `model` and its layers (dropout's, the VAE's
    noise), each once, in the model's layer order (the same for the same architecture)."""
    found, seen = [], set()
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for generator in layer._seed_generators:
            if id(generator) not in seen:
                seen.add(id(generator))
                found.append(generator)
    return found


# Keras hands TensorFlow's stateless ops its int64 seed states modulo int32.max - 1.
_SEED_RANGE = 2**31 - 2


def _reseed(generators, seed, step, replicas):
    """Sets each generator's state to one drawn statelessly from `(seed, step)`: row `i` of
    the calling replica's `[len(generators), 2]` slice of a `[replicas, len(generators), 2]`
    draw. A generator's draws within the step then count up from its state, so the step's
    dropout masks and noise depend on nothing that happened before the step (runs a replica
    context; each replica writes its own copy of a mirrored state variable)."""
    states = tf.random.stateless_uniform(
        [replicas, len(generators), 2], seed=tf.stack([tf.cast(seed, tf.int64), step]),
        minval=0, maxval=_SEED_RANGE, dtype=tf.int64)
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    mine = tf.gather(states, replica)
    for index, generator in enumerate(generators):
        generator.state.assign(mine[index])


def _sum_across_replicas(grads):
    """`grads` summed over the replicas (in a replica context); `None` stays `None`."""
    present = [i for i, g in enumerate(grads) if g is not None]
    summed = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, [grads[i] for i in present])
    out = list(grads)
    for i, g in zip(present, summed):
        out[i] = g
    return out


def _as_given(grads_and_vars):
    return list(grads_and_vars)


def _take_summed_gradients(optimizer) -> None:
    """Makes `optimizer` (and a `LossScaleOptimizer`'s inner one) apply the gradients it gets
    as they are, since the loop has summed them over the replicas already. Keras' TensorFlow
    optimizers sum them in `_backend_update_step`, after clipping; left in, that would sum the
    summed gradients again.

    Raises:
        TrainingError: the optimizer accumulates gradients (Keras cannot do that over several
            replicas), or this Keras has no `_all_reduce_sum_gradients` to replace.
    """
    for each in (optimizer, getattr(optimizer, "inner_optimizer", None)):
        if each is None:
            continue
        if getattr(each, "gradient_accumulation_steps", None):
            raise TrainingError(
                f"{type(each).__name__}(gradient_accumulation_steps="
                f"{each.gradient_accumulation_steps}) cannot train over several replicas: Keras "
                "applies accumulated gradients inside a cond, where tf.distribute cannot "
                "synchronise the replicas. Use a larger global batch instead, or one device.")
        if not hasattr(each, "_all_reduce_sum_gradients"):
            import keras

            raise TrainingError(
                f"{type(each).__name__} (Keras {keras.__version__}) has no "
                "_all_reduce_sum_gradients: zoo cannot train it over several replicas without "
                "summing the gradients twice. Train on one device, or use the Keras version in "
                "pyproject.toml.")
        each._all_reduce_sum_gradients = _as_given


def _checkpoint_step(path: str, optimizer) -> int:
    """The step a checkpoint was saved at: its number (`ckpt-<step>`). The optimizer's counter
    can be behind: a `LossScaleOptimizer` does not count the steps it skips for non-finite
    gradients, and with gradient accumulation it counts updates, not steps."""
    tail = path.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else int(optimizer.iterations.numpy())


def _scalar(tag: str, value: float) -> None:
    """A TensorBoard scalar, written without needing the tensorboard package installed."""
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = "scalars"
    tf.summary.write(tag, tf.constant(value, tf.float32), metadata=metadata)


def _append_jsonl(path: Path, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _truncate_history(path: Path, step: int) -> list:
    """Keep the history rows up to `step` (a resumed run rewrites what came after)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            break  # a line cut off by the kill
        if row.get("step", 0) <= step:
            rows.append(row)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
    return rows


def run(strategy, build_model, build_optimizer, objective, make_dataset, *, steps,
        global_batch_size, run_dir, checkpoint_every=200, log_every=50, jit_compile=False,
        label_smoothing=0.0, validate=None, validate_every=None, seed=0, log=print):
    """Trains to `steps` optimizer steps, resuming from `run_dir/checkpoints` if it holds any.

    Args:
        strategy: a `tf.distribute.Strategy`.
        build_model, build_optimizer: functions of no argument, called in `strategy.scope()`.
        objective: `(model, x, y, w, training, label_smoothing) -> (per-example loss, logs)`.
        make_dataset: `start_step -> tf.data.Dataset` of global batches `(x, y, w)`.
        run_dir: where checkpoints, `history.jsonl` and TensorBoard `logs/` go (chief only).
        validate: optional `model -> dict` run on the chief every `validate_every` steps and
            at the end (e.g. validation BLEU).
        seed: int. With the step, it decides the state of every `SeedGenerator` of the model
            at the start of each step (dropout, noise).

    Returns:
        a `LoopResult`.
    """
    run_dir = Path(run_dir)
    chief = is_chief(strategy)
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
    with strategy.scope():
        model = build_model()
        optimizer = build_optimizer()
        optimizer.build(model.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
    checkpoint_dir = run_dir / "checkpoints"
    manager = tf.train.CheckpointManager(
        checkpoint, str(_worker_checkpoint_dir(strategy, checkpoint_dir)), max_to_keep=2)
    latest = tf.train.latest_checkpoint(str(checkpoint_dir))
    if latest:
        try:
            checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise TrainingError(
                f"Cannot resume from {latest}: it does not match this model and optimizer "
                f"({str(error).splitlines()[0]}). Use a new run folder, or delete "
                f"{checkpoint_dir} to start over."
            ) from None
    start = _checkpoint_step(latest, optimizer) if latest else 0
    if latest:
        log(f"[train] resuming from {latest} at step {start:,} of {steps:,}")
    history_path = run_dir / "history.jsonl"
    history = _truncate_history(history_path, start) if chief else []
    writer = tf.summary.create_file_writer(str(run_dir / "logs")) if chief else None

    coordinator = None
    if is_parameter_server(strategy):
        # The chief schedules steps on the workers, which read their own copy of the input
        # pipeline and update the variables on the parameter servers (asynchronously).
        coordinator = tf.distribute.coordinator.ClusterCoordinator(strategy)
        iterator = iter(coordinator.create_per_worker_dataset(lambda: make_dataset(start)))
    else:
        iterator = iter(strategy.experimental_distribute_dataset(make_dataset(start)))
    variables = model.trainable_variables
    scale = getattr(optimizer, "scale_loss", None)
    generators = _seed_generators(model)
    replicas = int(strategy.num_replicas_in_sync)
    # Sum over the replicas before the optimizer's transformations (clipping, unscaling).
    presum = replicas > 1
    if presum:
        _take_summed_gradients(optimizer)

    def gradients(x, y, w):
        with tf.GradientTape() as tape:
            per_example, logs = objective(model, x, y, w, training=True,
                                          label_smoothing=label_smoothing)
            per_example = tf.cast(per_example, tf.float32)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = scale(loss) if scale is not None else loss
        grads = tape.gradient(scaled, variables)
        sums = {k: tf.reduce_sum(tf.cast(v, tf.float32)) for k, v in logs.items()}
        sums["loss"] = tf.reduce_sum(per_example)
        return grads, sums

    compute = tf.function(gradients, jit_compile=True) if jit_compile else gradients

    def replica_step(step, x, y, w):
        if generators:
            _reseed(generators, seed, step, replicas)
        grads, sums = compute(x, y, w)
        if presum:
            grads = _sum_across_replicas(grads)
        optimizer.apply_gradients(zip(grads, variables))
        return sums

    @tf.function
    def train_step(iterator, step):
        sums = strategy.run(replica_step, args=(step, *next(iterator)))
        return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in sums.items()}

    def save(step):
        manager.save(checkpoint_number=step)
        if not chief:
            shutil.rmtree(manager.directory, ignore_errors=True)

    totals, window_start, last_good = None, start, start if latest else None
    earlier_seconds = float(history[-1].get("seconds", 0.0)) if history else 0.0
    started = time.perf_counter()
    tick = started
    scheduled = []
    for step in range(start + 1, steps + 1):
        if coordinator is not None:
            scheduled.append(coordinator.schedule(
                train_step, args=(iterator, tf.constant(step, tf.int64))))
        else:
            sums = train_step(iterator, tf.constant(step, tf.int64))
            totals = sums if totals is None else {k: totals[k] + sums[k] for k in sums}
        boundary = step % log_every == 0 or step % checkpoint_every == 0 or step == steps
        if not boundary:
            continue
        if coordinator is not None:
            coordinator.join()
            fetched = [remote.fetch() for remote in scheduled]
            scheduled = []
            totals = {k: sum(float(f[k]) for f in fetched) for k in fetched[0]}
            # Asynchronous updates can lose increments of the optimizer's step counter; the
            # chief knows how many steps ran (and the schedule reads the counter).
            optimizer.iterations.assign(step)
        count = float(global_batch_size * (step - window_start))
        means = {k: float(v) / count for k, v in totals.items()}
        if not all(math.isfinite(v) for v in means.values()):
            kept = (f"The last good checkpoint (step {last_good:,}) is kept in {checkpoint_dir}"
                    if last_good else "No checkpoint was written yet")
            raise TrainingError(
                f"The training loss became {means['loss']} between steps {window_start + 1:,} and "
                f"{step:,}; stopped without saving. {kept}. Lower the learning rate (or add "
                "warm-up or clipnorm) or check the data for inf/NaN, then start again."
            )
        now = time.perf_counter()
        row = {"step": step, **{k: round(v, 6) for k, v in means.items()},
               "learning_rate": float(optimizer.learning_rate.numpy())
               if hasattr(optimizer.learning_rate, "numpy") else None,
               "examples_per_second": round(count / max(now - tick, 1e-9), 1),
               "seconds": round(earlier_seconds + now - started, 2)}
        if validate is not None and chief and validate_every and (
                step % validate_every == 0 or step == steps):
            row.update({f"val_{k}": v for k, v in validate(model).items()})
        totals, window_start, tick = None, step, time.perf_counter()
        if chief:
            history.append(row)
            _append_jsonl(history_path, row)
            with writer.as_default(step=step):
                for key, value in row.items():
                    if key != "step" and isinstance(value, (int, float)):
                        _scalar(key, value)
            writer.flush()
        if step % log_every == 0 or step == steps:
            shown = "  ".join(f"{k} {v:.4g}" for k, v in row.items()
                              if k != "step" and isinstance(v, float))
            log(f"[train] step {step:,}/{steps:,}  {shown}")
        if step % checkpoint_every == 0 or step == steps:
            save(step)
            last_good = step
    if start >= steps:
        log(f"[train] already at step {start:,} of {steps:,}: nothing to train")
    seconds = earlier_seconds + time.perf_counter() - started
    return LoopResult(model, steps, start, history, seconds)
