"""`tf.distribute` strategies by name, checked before any work starts.

`auto` picks a TPU when one is configured, multi-worker when `TF_CONFIG` names several
workers, mirrored when several GPUs are visible, else the default strategy. A choice that
cannot work fails with `StrategyError`, saying why, before a model is built.

To try the mirrored strategy on a CPU, split it into logical devices first (env
`ZOO_CPU_DEVICES=2`, or `split_cpu(2)` before TensorFlow runs anything).

>>> from zoo.training import strategies
>>> strategies.make("default").num_replicas_in_sync
1
"""

from __future__ import annotations

import json
import os

from zoo.registry import did_you_mean
from zoo.training.errors import StrategyError

NAMES = ("auto", "default", "one_device", "mirrored", "multi_worker_mirrored", "parameter_server",
         "tpu")




def split_cpu(n: int) -> None:
    """Expose the CPU as `n` logical devices (must run before TensorFlow initialises)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == n:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError as error:
        raise StrategyError(
            f"Cannot split the CPU into {n} devices: TensorFlow is already initialised ({error}). "
            "Set ZOO_CPU_DEVICES before starting Python."
        ) from None


def _apply_cpu_env():
    value = os.environ.get("ZOO_CPU_DEVICES", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise StrategyError(f"ZOO_CPU_DEVICES must be a positive integer, got {value!r}.")
        split_cpu(int(value))


_MADE: dict = {}


def tf_config() -> dict:
    """The parsed `TF_CONFIG` (empty when unset)."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return {}
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise StrategyError(f"TF_CONFIG is not valid JSON ({error}).") from None
    if not isinstance(config, dict) or "cluster" not in config:
        raise StrategyError('TF_CONFIG needs a "cluster" and a "task", e.g. {"cluster": '
                            '{"worker": ["host1:12345", "host2:12345"]}, "task": {"type": '
                            '"worker", "index": 0}}.')
    return config


def _cluster_size(config) -> int:
    cluster = config.get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _tpu_configured() -> bool:
    return bool(os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR")
                or os.path.exists("/dev/accel0") or os.path.exists("/dev/vfio/0"))


def _short(device: str) -> str:
    """"/job:localhost/replica:0/task:0/device:CPU:1", "/device:CPU:1", "cpu:1" -> "/cpu:1"."""
    return "/" + device.lower().rsplit("/", 1)[-1].removeprefix("device:")


def _check_devices(devices, tf):
    known = sorted({_short(d.name) for d in tf.config.list_logical_devices()})
    for device in devices:
        if _short(device) not in known:
            raise StrategyError(
                f"Device {device} does not exist here; devices: {', '.join(known)}. "
                "(To mirror over CPU devices, set ZOO_CPU_DEVICES=2 before starting.)"
            )


def resolve(name: str = "auto") -> str:
    """The concrete strategy name `auto` stands for on this machine."""
    if name not in NAMES:
        hint = did_you_mean(name, NAMES)
        raise StrategyError(f"Unknown strategy '{name}'. {hint + ' ' if hint else ''}"
                            f"Strategies: {', '.join(NAMES)}.")
    if name != "auto":
        return name
    import tensorflow as tf

    if _tpu_configured():
        return "tpu"
    config = tf_config()
    if config.get("cluster", {}).get("ps"):
        return "parameter_server"
    if _cluster_size(config) > 1:
        return "multi_worker_mirrored"
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return "mirrored"
    return "default"


def make(name: str = "auto", devices=None, tpu=None):
    """A `tf.distribute.Strategy` by name.

    Args:
        name: one of `NAMES`.
        devices: for `one_device` (one name) and `mirrored` (a list), e.g. ["/cpu:0", "/cpu:1"].
            Default: the first GPU or the CPU; for mirrored, every GPU, else every logical CPU.
        tpu: the TPU name or address for `tpu` (default: env `TPU_NAME`, else the local TPU).

    Raises:
        StrategyError: the strategy cannot run here (a device that does not exist, no TPU,
            no `TF_CONFIG` for a multi-worker strategy).
    """
    _apply_cpu_env()
    concrete = resolve(name)
    import tensorflow as tf

    if isinstance(devices, str):
        devices = [devices]
    if concrete == "default":
        return tf.distribute.get_strategy()
    if concrete == "one_device":
        if devices and len(devices) != 1:
            raise StrategyError(f"one_device takes one device, got {len(devices)}: {devices}.")
        gpus = tf.config.list_logical_devices("GPU")
        device = devices[0] if devices else (gpus[0].name if gpus else "/cpu:0")
        _check_devices([device], tf)
        return tf.distribute.OneDeviceStrategy(device)
    if concrete == "mirrored":
        if devices:
            _check_devices(devices, tf)
        else:
            gpus = tf.config.list_logical_devices("GPU")
            devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        # One strategy per device set and process: a second MirroredStrategy over the same
        # devices would restart the collective keys and collide with the first one's.
        key = ("mirrored", tuple(_short(d) for d in devices))
        if key not in _MADE:
            _MADE[key] = tf.distribute.MirroredStrategy(devices)
        return _MADE[key]
    if concrete == "multi_worker_mirrored":
        config = tf_config()
        if _cluster_size(config) < 1 or "task" not in config:
            raise StrategyError(
                "multi_worker_mirrored needs TF_CONFIG naming the workers and this process's "
                'task, e.g. TF_CONFIG=\'{"cluster": {"worker": ["10.0.0.1:12345", '
                '"10.0.0.2:12345"]}, "task": {"type": "worker", "index": 0}}\'.'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    if concrete == "parameter_server":
        config = tf_config()
        cluster = config.get("cluster", {})
        task = config.get("task", {})
        if not cluster.get("ps") or not cluster.get("worker") or task.get("type") not in (
                "chief", "worker", "ps"):
            raise StrategyError(
                "parameter_server needs TF_CONFIG with 'chief', 'worker' and 'ps' jobs and this "
                'process\'s task, e.g. TF_CONFIG=\'{"cluster": {"chief": ["10.0.0.1:2222"], '
                '"worker": ["10.0.0.2:2222"], "ps": ["10.0.0.3:2222"]}, "task": {"type": '
                '"chief", "index": 0}}\'. Run the same command on every task: workers and '
                "parameter servers serve, the chief trains."
            )
        if task["type"] != "chief":
            raise ServeTask(task["type"], int(task.get("index", 0)), cluster)
        key = ("parameter_server", json.dumps(cluster, sort_keys=True))
        if key not in _MADE:
            resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
            _MADE[key] = tf.distribute.ParameterServerStrategy(resolver)
        return _MADE[key]
    # TPU
    if tpu is None and not _tpu_configured():
        raise StrategyError(
            "No TPU is configured on this machine (no TPU_NAME, no /dev/accel*). Use a TPU VM or "
            "pass the TPU's name or address (--tpu), or choose another strategy."
        )
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=tpu or os.environ.get("TPU_NAME", "local"))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise StrategyError(f"Cannot reach the TPU {tpu or ''}: {error}") from None
    return tf.distribute.TPUStrategy(resolver)


class ServeTask(Exception):
    """This process is a parameter-server cluster's worker or ps: it serves, it does not train.
    `serve(task)` runs its server until the process is stopped."""

    def __init__(self, job, index, cluster):
        super().__init__(f"{job} {index}")
        self.job, self.index, self.cluster = job, index, cluster


def serve(task: ServeTask, log=print) -> None:
    """Runs a worker or ps server of a parameter-server cluster until the process is stopped
    (the chief schedules the training steps on it; stop it when the chief is done)."""
    import tensorflow as tf

    server = tf.distribute.Server(tf.train.ClusterSpec(task.cluster), job_name=task.job,
                                  task_index=task.index, protocol="grpc", start=True)
    log(f"[train] serving as {task.job} {task.index} at {server.target} for the chief")
    server.join()


def is_parameter_server(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.ParameterServerStrategy)


def is_chief(strategy) -> bool:
    """Whether this process writes outputs (always, except non-chief multi-worker tasks)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and
                                    "chief" not in resolver.cluster_spec().as_dict())


def describe(strategy) -> dict:
    """What to record about a strategy: class, replicas, workers."""
    return {
        "class": type(strategy).__name__,
        "replicas": int(strategy.num_replicas_in_sync),
        "workers": _cluster_size(tf_config()) or 1,
    }
