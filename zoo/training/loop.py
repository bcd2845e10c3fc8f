"""One training loop for every `tf.distribute` strategy, with checkpoints that survive a kill.

The loop is `strategy.run` over `strategy.experimental_distribute_dataset` with Keras 3 models
and optimizers (Keras 3's `model.fit` does not run under `MultiWorkerMirroredStrategy`,
keras-team/keras#20585). The model and optimizer are built inside `strategy.scope()`; each
replica's loss is averaged over the *global* batch and the optimizer sums gradients across
replicas, so a step is the same for any replica count. Under `ParameterServerStrategy` the
same step is scheduled on the workers by a `ClusterCoordinator` (each step one worker's batch,
applied asynchronously to the variables on the parameter servers).

Every `checkpoint_every` steps (and at the end) the model and optimizer state go to a
`tf.train.CheckpointManager`; a process killed at any point and started again resumes from the
newest checkpoint, reads the batches an uninterrupted run would have read (see `inputs`), and
stops at the same step count. A NaN or infinite loss stops the run before the damaged weights
are saved, keeping the last good checkpoint.
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
        label_smoothing=0.0, validate=None, validate_every=None, log=print):
    """Trains to `steps` optimizer steps, resuming from `run_dir/checkpoints` if it holds any.

    Args:
        strategy: a `tf.distribute.Strategy`.
        build_model, build_optimizer: functions of no argument, called in `strategy.scope()`.
        objective: `(model, x, y, w, training, label_smoothing) -> (per-example loss, logs)`.
        make_dataset: `start_step -> tf.data.Dataset` of global batches `(x, y, w)`.
        run_dir: where checkpoints, `history.jsonl` and TensorBoard `logs/` go (chief only).
        validate: optional `model -> dict` run on the chief every `validate_every` steps and
            at the end (e.g. validation BLEU).

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
    start = int(optimizer.iterations.numpy())
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

    def replica_step(x, y, w):
        grads, sums = compute(x, y, w)
        optimizer.apply_gradients(zip(grads, variables))
        return sums

    @tf.function
    def train_step(iterator):
        sums = strategy.run(replica_step, args=next(iterator))
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
            scheduled.append(coordinator.schedule(train_step, args=(iterator,)))
        else:
            sums = train_step(iterator)
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
