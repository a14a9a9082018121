"""Every kdl normalization layer saves one set of moving statistics.

Trained under a 2-replica `MirroredStrategy` on data that differs between
the replicas, saved to `.keras` and reloaded in a fresh process, a model
predicts exactly what it predicted before saving: its moving statistics
are the same on every replica, so whichever copy is saved is the one used.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np

import kdl
from tests.layers.batch_norm_testing import TF_DISTRIBUTE
from tests.test_case import TestCase
from tests.test_case import skip_unless_tensorflow
from tests.test_case import two_replica_strategy

# name -> (normalization layer, input shape without batch)
LAYERS = {
    "ghost": (lambda: kdl.layers.GhostBatchNormalization(4), (6,)),
    "renorm": (lambda: kdl.layers.BatchRenormalization(), (6,)),
    "l1": (lambda: kdl.layers.L1BatchNormalization(), (6,)),
    "recurrent": (
        lambda: kdl.layers.RecurrentBatchNormalization(max_steps=3),
        (3, 6),
    ),
}

# Ends with os._exit once the output is flushed: tearing down TensorFlow's
# modules one by one at a normal exit costs ~1.6 s of CPU and checks nothing.
RELOAD = """
import json, os, sys
import numpy as np
import keras
import kdl  # registers the layers
out = {}
for name, path in json.loads(sys.argv[1]).items():
    model = keras.saving.load_model(path)
    x = np.load(path + ".x.npy")
    out[name] = np.asarray(model.predict(x, verbose=0)).tolist()
print(json.dumps(out), flush=True)
os._exit(0)
"""


def _model(make_norm, shape):
    inputs = keras.Input(shape)
    x = keras.layers.Dense(6)(inputs)
    x = make_norm()(x)
    outputs = keras.layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.05), "mse")
    return model


@skip_unless_tensorflow(TF_DISTRIBUTE)
class ReplicaConsistencyTest(TestCase):
    def test_saved_statistics_predict_the_same_after_reload(self):
        strategy = two_replica_strategy()
        rng = np.random.default_rng(0)
        paths, before = {}, {}
        for name, (make_norm, shape) in LAYERS.items():
            x = rng.normal(size=(64, *shape)).astype("float32")
            # Each global batch of 16 is split 8 / 8: the second replica's
            # half is shifted and scaled, so local statistics differ.
            x.reshape(4, 2, 8, -1)[:, 1] = x.reshape(4, 2, 8, -1)[:, 1] * 3 + 2
            y = x.reshape(64, -1).sum(-1, keepdims=True)
            keras.utils.set_random_seed(1)
            with strategy.scope():
                model = _model(make_norm, shape)
            model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
            norm = model.layers[2]
            for variable in norm.non_trainable_variables:
                copies = strategy.experimental_local_results(variable.value)
                self.assertAllClose(
                    np.asarray(copies[0]), np.asarray(copies[1]), atol=0,
                    msg=f"{name}: {variable.name}",
                )  # fmt: skip
            path = os.path.join(self.get_temp_dir(), f"{name}.keras")
            model.save(path)
            np.save(path + ".x.npy", x[:8])
            paths[name] = path
            before[name] = np.asarray(model.predict(x[:8], verbose=0))
        done = subprocess.run(
            [sys.executable, "-c", RELOAD, json.dumps(paths)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        )
        self.assertEqual(done.returncode, 0, done.stderr[-3000:])
        after = json.loads(done.stdout.strip().splitlines()[-1])
        for name in LAYERS:
            self.assertAllClose(
                np.asarray(after[name]), before[name], atol=1e-6, msg=name
            )
