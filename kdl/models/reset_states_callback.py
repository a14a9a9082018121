"""A callback that zeroes stateful RNN states, for truncated-BPTT training."""

import keras


class ResetStatesCallback(keras.callbacks.Callback):
    """Zeroes the RNN states at every epoch start and evaluation start.

    For stateful truncated-BPTT training: the states are carried across the
    batches of one pass over the stream and restart at its beginning.
    Resets every layer with `reset_state()` and `stateful=True`.
    """

    def _reset(self, *args, **kwargs):
        reset_rnn_states(self.model)

    on_epoch_begin = _reset
    on_test_begin = _reset
    on_predict_begin = _reset


def reset_rnn_states(model):
    """Zeroes the states of every stateful RNN layer of `model`."""
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        stack.extend(getattr(layer, "layers", []) or [])
        if getattr(layer, "stateful", False) and hasattr(layer, "reset_state"):
            if getattr(layer, "states", None) is not None:
                layer.reset_state()
