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

import dataclasses
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from zoo import atomic, schema
from zoo.models import seeding
from zoo.training.errors import TrainingError
from zoo.training.strategies import is_chief, is_parameter_server


@dataclass
class LoopResult:
    model: object
    steps: int
    resumed_from: int
    history: list
    seconds: float


_POSITIVE = schema.Int(min=1)
#: The fields of a `LoopConfig`, checked when one is made (from Python or from JSON).
LOOP_CONFIG = schema.Table({
    "steps": schema.Field(_POSITIVE, required=True),
    "global_batch_size": schema.Field(_POSITIVE, required=True),
    "run_dir": schema.Field(schema.Path(), required=True),
    "checkpoint_every": schema.Field(_POSITIVE),
    "log_every": schema.Field(_POSITIVE),
    "jit_compile": schema.Field(schema.Bool()),
    "label_smoothing": schema.Field(schema.Float(min=0, max=1, max_exclusive=True)),
    "validate_every": schema.Field(_POSITIVE, nullable=True),
    "seed": schema.Field(schema.Int(min=0, max=2 ** 32 - 1)),
}, what="a loop config")


@dataclass(frozen=True)
class LoopConfig:
    """The settings of one `run`, flat and JSON-ready (`to_dict` / `from_dict`).

    Attributes:
        steps: optimizer steps to train to (a resumed run trains the rest).
        global_batch_size: examples per step over all replicas; each replica's loss is
            averaged over it.
        run_dir: where `checkpoints/`, `history.jsonl` and TensorBoard `logs/` go (a string;
            a `pathlib.Path` is turned into one).
        checkpoint_every, log_every: periods in steps (the last step always logs and saves).
        jit_compile: XLA-compile the gradient computation.
        label_smoothing: passed to the objective.
        validate_every: period in steps of the `validate` function (None: never).
        seed: with the step, it decides the state of every `SeedGenerator` of the model at
            the start of each step (dropout, noise).

    Raises:
        TrainingError: a field of the wrong type or out of range, or (from `from_dict`) an
            unknown or missing field, naming each one.
    """

    steps: int
    global_batch_size: int
    run_dir: str
    checkpoint_every: int = 200
    log_every: int = 50
    jit_compile: bool = False
    label_smoothing: float = 0.0
    validate_every: int | None = None
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.run_dir, os.PathLike):
            object.__setattr__(self, "run_dir", os.fspath(self.run_dir))
        schema.validate(self.to_dict(), LOOP_CONFIG, "LoopConfig", error=TrainingError)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_recipe(cls, recipe, run_dir) -> LoopConfig:
        """The loop settings of a `zoo.training.Recipe` trained into `run_dir`."""
        return cls(steps=recipe.steps, global_batch_size=recipe.batch_size, run_dir=run_dir,
                   checkpoint_every=recipe.checkpoint_every, log_every=recipe.log_every,
                   jit_compile=recipe.jit_compile, label_smoothing=recipe.label_smoothing,
                   validate_every=recipe.validation.get("every"), seed=recipe.seed)

    @classmethod
    def from_dict(cls, data: dict, source: str = "loop config") -> LoopConfig:
        """The config a `to_dict` (or a JSON file of one, named `source`) holds."""
        return cls(**schema.validate(data, LOOP_CONFIG, source, error=TrainingError))


def _worker_checkpoint_dir(strategy, directory: Path) -> Path:
    """The chief writes `directory`; other workers write a private folder deleted afterwards
    (every worker must take part in a save)."""
    if is_chief(strategy):
        return directory
    task_id = strategy.cluster_resolver.task_id
    return directory.parent / f".{directory.name}-worker{task_id}"


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
    atomic.write_text(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    return rows


# --- The named steps of `run` ------------------------------------------------------------


def _build(strategy, build_model, build_optimizer):
    """The model and its built optimizer, made in `strategy.scope()` (variables mirrored)."""
    with strategy.scope():
        model = build_model()
        optimizer = build_optimizer()
        optimizer.build(model.trainable_variables)
    return model, optimizer


class _Checkpoints:
    """`run_dir/checkpoints`: restores the newest checkpoint and saves new ones (every worker
    takes part in a save; only the chief's is kept)."""

    def __init__(self, strategy, model, optimizer, run_dir: Path):
        self.directory = run_dir / "checkpoints"
        self.chief = is_chief(strategy)
        self.optimizer = optimizer
        self.checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(_worker_checkpoint_dir(strategy, self.directory)),
            max_to_keep=2)
        self.last_good = None  # the newest step saved (or restored), for the divergence error

    def restore(self) -> tuple[str | None, int]:
        """Restores the newest checkpoint into the model and optimizer, if there is one.

        Returns:
            `(its path or None, the step it was saved at or 0)`.

        Raises:
            TrainingError: the checkpoint does not match the model and optimizer.
        """
        latest = tf.train.latest_checkpoint(str(self.directory))
        if not latest:
            return None, 0
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise TrainingError(
                f"Cannot resume from {latest}: it does not match this model and optimizer "
                f"({str(error).splitlines()[0]}). Use a new run folder, or delete "
                f"{self.directory} to start over."
            ) from None
        self.last_good = _checkpoint_step(latest, self.optimizer)
        return latest, self.last_good

    def save(self, step: int) -> None:
        self.manager.save(checkpoint_number=step)
        if not self.chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)
        self.last_good = step


def _train_step(strategy, model, optimizer, objective, config: LoopConfig):
    """The distributed step `(iterator, step) -> {name: sum over the global batch}`.

    On each replica, in this order: every `SeedGenerator` of the model is set from
    `(config.seed, step)`; the loss is averaged over the *global* batch (plus the model's
    regularization losses) and scaled by a `LossScaleOptimizer`; the gradients (XLA-compiled
    when `config.jit_compile`) are summed over the replicas when there are several, and only
    then handed to the optimizer, whose clipping and unscaling see the global batch's gradient.
    The per-example sums of the loss and the objective's logs are summed over the replicas.
    """
    variables = model.trainable_variables
    scale = getattr(optimizer, "scale_loss", None)
    generators = seeding.seed_generators(model)
    replicas = int(strategy.num_replicas_in_sync)
    # Sum over the replicas before the optimizer's transformations (clipping, unscaling).
    presum = replicas > 1
    if presum:
        _take_summed_gradients(optimizer)

    def gradients(x, y, w):
        with tf.GradientTape() as tape:
            per_example, logs = objective(model, x, y, w, training=True,
                                          label_smoothing=config.label_smoothing)
            per_example = tf.cast(per_example, tf.float32)
            loss = tf.nn.compute_average_loss(per_example,
                                              global_batch_size=config.global_batch_size)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = scale(loss) if scale is not None else loss
        grads = tape.gradient(scaled, variables)
        sums = {k: tf.reduce_sum(tf.cast(v, tf.float32)) for k, v in logs.items()}
        sums["loss"] = tf.reduce_sum(per_example)
        return grads, sums

    compute = tf.function(gradients, jit_compile=True) if config.jit_compile else gradients

    def replica_step(step, x, y, w):
        if generators:
            _reseed(generators, config.seed, step, replicas)
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

    return train_step


class _Stepper:
    """Runs the steps of one logging window and sums their outputs: directly, or (under
    `ParameterServerStrategy`) scheduled on the workers by a `ClusterCoordinator`, which read
    their own copy of the input pipeline and update the variables on the parameter servers
    (asynchronously)."""

    def __init__(self, strategy, train_step, make_dataset, start: int, optimizer):
        self.train_step, self.optimizer = train_step, optimizer
        self.coordinator = None
        if is_parameter_server(strategy):
            self.coordinator = tf.distribute.coordinator.ClusterCoordinator(strategy)
            per_worker = self.coordinator.create_per_worker_dataset(lambda: make_dataset(start))
            try:
                spec = per_worker.element_spec
            except (AttributeError, ValueError, NotImplementedError):
                spec = None
            self.iterator = iter(per_worker)
        else:
            dataset = make_dataset(start)
            spec = dataset.element_spec
            self.iterator = iter(strategy.experimental_distribute_dataset(dataset))
        self.tokens_per_example = tokens_per_example(spec)
        self.totals, self.scheduled = None, []

    def run(self, step: int) -> None:
        """Runs (or schedules) step `step`."""
        args = (self.iterator, tf.constant(step, tf.int64))
        if self.coordinator is not None:
            self.scheduled.append(self.coordinator.schedule(self.train_step, args=args))
            return
        sums = self.train_step(*args)
        self.totals = sums if self.totals is None else {
            k: self.totals[k] + sums[k] for k in sums}

    def window_totals(self, step: int) -> dict:
        """The window's sums `{name: sum over its examples}` (waiting for scheduled steps);
        starts the next window."""
        if self.coordinator is not None:
            self.coordinator.join()
            fetched = [remote.fetch() for remote in self.scheduled]
            self.scheduled = []
            self.totals = {k: sum(float(f[k]) for f in fetched) for k in fetched[0]}
            # Asynchronous updates can lose increments of the optimizer's step counter; the
            # chief knows how many steps ran (and the schedule reads the counter).
            self.optimizer.iterations.assign(step)
        totals, self.totals = self.totals, None
        return totals


def tokens_per_example(element_spec) -> int | None:
    """The tokens in each example of batches `(x, y, w)` with this `element_spec` when the
    model reads token ids: the length of an integer `x` of shape `[batch, length]` (a known
    length); None otherwise (images, a dict of inputs, a length that varies).

    >>> spec = (tf.TensorSpec([12, 64], tf.int32), tf.TensorSpec([12, 64], tf.int32))
    >>> tokens_per_example(spec), tokens_per_example((tf.TensorSpec([8, 28, 28], tf.float32),))
    (64, None)
    """
    x = element_spec[0] if isinstance(element_spec, tuple) and element_spec else None
    if (isinstance(x, tf.TensorSpec) and x.dtype.is_integer and x.shape.rank == 2
            and x.shape[1] is not None):
        return int(x.shape[1])
    return None


def _check_finite(means: dict, first: int, step: int, checkpoints: _Checkpoints) -> None:
    """Raises `TrainingError` (before anything is saved) when a window's mean is inf or NaN,
    naming the steps, the last good checkpoint and what to change."""
    if all(math.isfinite(v) for v in means.values()):
        return
    kept = (f"The last good checkpoint (step {checkpoints.last_good:,}) is kept in "
            f"{checkpoints.directory}" if checkpoints.last_good else
            "No checkpoint was written yet")
    raise TrainingError(
        f"The training loss became {means['loss']} between steps {first:,} and "
        f"{step:,}; stopped without saving. {kept}. Lower the learning rate (or add "
        "warm-up or clipnorm) or check the data for inf/NaN, then start again."
    )


def _learning_rate(optimizer):
    return (float(optimizer.learning_rate.numpy()) if hasattr(optimizer.learning_rate, "numpy")
            else None)


class _History:
    """`history.jsonl` (one row per logging step) and TensorBoard `logs/`, written by the
    chief only. A resumed run keeps the rows up to its checkpoint and counts on from their
    training time."""

    def __init__(self, run_dir: Path, start: int, chief: bool):
        self.path = run_dir / "history.jsonl"
        self.chief = chief
        self.rows = _truncate_history(self.path, start) if chief else []
        self.writer = tf.summary.create_file_writer(str(run_dir / "logs")) if chief else None
        self.earlier_seconds = float(self.rows[-1].get("seconds", 0.0)) if self.rows else 0.0
        self.started = time.perf_counter()
        self.tick = self.started

    def seconds(self) -> float:
        """Training seconds so far, the runs before a resume included."""
        return self.earlier_seconds + time.perf_counter() - self.started

    def row(self, step: int, means: dict, count: float, optimizer, tokens=None) -> dict:
        """The row of a window that ended at `step`: the means of its `count` examples, the
        learning rate, examples per second (since the last row), tokens per second when each
        example holds `tokens` tokens (`tokens_per_example`), and training seconds."""
        now = time.perf_counter()
        speed = count / max(now - self.tick, 1e-9)
        row = {"step": step, **{k: round(v, 6) for k, v in means.items()},
               "learning_rate": _learning_rate(optimizer),
               "examples_per_second": round(speed, 1)}
        if tokens is not None:
            row["tokens_per_second"] = round(speed * tokens, 1)
        return dict(row, seconds=round(self.earlier_seconds + now - self.started, 2))

    def start_window(self) -> None:
        self.tick = time.perf_counter()

    def add(self, row: dict) -> None:
        if not self.chief:
            return
        self.rows.append(row)
        _append_jsonl(self.path, row)
        with self.writer.as_default(step=row["step"]):
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)):
                    _scalar(key, value)
        self.writer.flush()


def _due(step: int, every: int | None, steps: int) -> bool:
    """Whether step `step` ends a period of `every` steps (the last of `steps` ends every
    period; `every=None` never)."""
    return bool(every) and (step % every == 0 or step == steps)


def _log_row(row: dict, config: LoopConfig, log) -> None:
    shown = "  ".join(f"{k} {v:.4g}" for k, v in row.items()
                      if k != "step" and isinstance(v, float))
    log(f"[train] step {row['step']:,}/{config.steps:,}  {shown}")


def run(strategy, build_model, build_optimizer, objective, make_dataset, config: LoopConfig,
        *, validate=None, log=print) -> LoopResult:
    """Trains to `config.steps` optimizer steps, resuming from `config.run_dir/checkpoints` if
    it holds any.

    Args:
        strategy: a `tf.distribute.Strategy`.
        build_model, build_optimizer: functions of no argument, called in `strategy.scope()`.
        objective: `(model, x, y, w, training, label_smoothing) -> (per-example loss, logs)`.
        make_dataset: `start_step -> tf.data.Dataset` of global batches `(x, y, w)`.
        config: a `LoopConfig` (steps, batch size, run folder, periods, XLA, seed).
        validate: optional `model -> dict` run on the chief every `config.validate_every`
            steps and at the end (e.g. validation BLEU); its values go in the history as
            `val_<name>`.
        log: called with each progress line.

    Returns:
        a `LoopResult`.

    Raises:
        TrainingError: the checkpoint does not fit the model, the loss became inf or NaN, or
            the optimizer cannot train over several replicas.
    """
    run_dir = Path(config.run_dir)
    chief = is_chief(strategy)
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
    model, optimizer = _build(strategy, build_model, build_optimizer)
    checkpoints = _Checkpoints(strategy, model, optimizer, run_dir)
    latest, start = checkpoints.restore()
    if latest:
        log(f"[train] resuming from {latest} at step {start:,} of {config.steps:,}")
    history = _History(run_dir, start, chief)
    stepper = _Stepper(strategy, _train_step(strategy, model, optimizer, objective, config),
                       make_dataset, start, optimizer)
    window_start = start
    for step in range(start + 1, config.steps + 1):
        stepper.run(step)
        logs = _due(step, config.log_every, config.steps)
        saves = _due(step, config.checkpoint_every, config.steps)
        if not (logs or saves):
            continue
        count = float(config.global_batch_size * (step - window_start))
        means = {k: float(v) / count for k, v in stepper.window_totals(step).items()}
        _check_finite(means, window_start + 1, step, checkpoints)
        row = history.row(step, means, count, optimizer, stepper.tokens_per_example)
        if validate is not None and chief and _due(step, config.validate_every, config.steps):
            row.update({f"val_{k}": v for k, v in validate(model).items()})
        window_start = step
        history.start_window()
        history.add(row)
        if logs:
            _log_row(row, config, log)
        if saves:
            checkpoints.save(step)
    if start >= config.steps:
        log(f"[train] already at step {start:,} of {config.steps:,}: nothing to train")
    return LoopResult(model, config.steps, start, history.rows, history.seconds())
