"""Distribution strategy from a name (TF-only code: allowed in training)."""

import json
import os

import tensorflow as tf

from kdl.training import multi_worker

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")


def get_strategy(name="auto", tpu=""):
    """Returns a `tf.distribute.Strategy` for `name`.

    Args:
        name: one of `STRATEGIES`.
            `auto`: `MirroredStrategy` when more than one GPU is visible,
            else the default strategy. `one_device`: `OneDeviceStrategy` on
            the first GPU, or the CPU. `mirrored`: `MirroredStrategy` over
            all local GPUs (or all logical CPUs when there is no GPU).
            `multi_worker`: `MultiWorkerMirroredStrategy`; the cluster comes
            from the `TF_CONFIG` environment variable, which must be set.
            It is made once per process (TensorFlow configures its
            collective runtime once): later calls return the same one.
            `tpu`: `TPUStrategy` through `TPUClusterResolver(tpu)`.
        tpu: TPU name or address for `tpu` ('' means a local TPU VM).
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy. Expected one of {list(STRATEGIES)}. "
            f"Received: strategy={name!r}"
        )
    if name == "multi_worker":
        # First, before anything lists devices: the collective runtime must
        # be configured at program start-up (TF raises "Collective ops must
        # be configured at program startup" once the runtime is up).
        config = os.environ.get("TF_CONFIG", "")
        try:
            cluster = json.loads(config)["cluster"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(
                "strategy='multi_worker' needs the TF_CONFIG environment "
                "variable with a 'cluster' and a 'task', e.g. "
                '{"cluster": {"worker": ["host1:2222", "host2:2222"]}, '
                '"task": {"type": "worker", "index": 0}}. '
                f"Received: TF_CONFIG={config!r}"
            ) from None
        del cluster
        # One cluster per process: a second call (e.g. several recipes run
        # in one process) gets the same strategy.
        made = multi_worker.registered_strategy()
        if made is not None:
            return made
        return multi_worker.register_strategy(
            tf.distribute.MultiWorkerMirroredStrategy()
        )
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        if len(gpus) > 1:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.get_strategy()
    if name == "one_device":
        device = gpus[0].name if gpus else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus)
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
