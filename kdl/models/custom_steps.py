"""Custom training steps written once for the TensorFlow and JAX backends.

Keras 3 calls a model's own step in two ways: on TensorFlow as
`train_step(data)`, a stateful function (variables are assigned in place,
gradients come from a `tf.GradientTape`); on JAX as
`train_step(state, data)`, a pure function of the variables' values that
returns `(logs, new_state)` (gradients from `jax.value_and_grad`, see the
Keras guide "Customizing what happens in `fit()` with JAX"). kdl's models
write the step once, in the stateful style, with `value_and_grad` where the
tape was:

```python
def train_step(self, *args):
    return custom_steps.train_step(self, args, self.fit_batch)

def fit_batch(self, data):
    x, y = data
    weights = self.trainable_weights
    loss, grads = custom_steps.value_and_grad(
        lambda: self.batch_loss(x, y), weights
    )
    custom_steps.apply_gradients(self, grads, weights)
    self.loss_tracker.update_state(loss)
    return {"loss": self.loss_tracker.result()}
```

On TensorFlow `train_step(self, (data,), fn)` is `fn(data)` and
`value_and_grad` runs a `tf.GradientTape`: the same graph as a hand-written
TensorFlow step. On JAX `train_step` runs `fn(data)` inside a
`keras.StatelessScope` that maps every variable of the model, of its
optimizer and of its metrics to the values in `state`, and returns the
values the step assigned as the new state; `value_and_grad` differentiates
a pure function of the weights: the loss function runs inside a fresh
`StatelessScope` (collecting `add_loss` losses) in which the weights are
the traced arguments and every other variable has its current value, and
the assignments it makes (batch-norm statistics, seed generator states)
are replayed in the step's scope afterwards. So the loss, the update rule
and the metrics are written once, and the JAX step is a pure function that
`jit_compile=True` compiles.

On JAX every variable a step reads or writes must be in the state: the
model's (trainable and not), `model.optimizer.variables` and
`model.metrics_variables`. A variable outside them (say, a second
optimizer's slots) would be a constant baked into the compiled step and
its updates lost; `train_step` refuses such a model only by its docstring.
A model with a second optimizer brings its variables into the state
itself: `kdl.models.GLO` lists its code optimizer's variables in its
`metrics_variables` on JAX (see its docstring).
"""

import keras

# The variables of the JAX steps being run (innermost last), for
# `value_and_grad`.
_STEP_VARIABLES = []


def backend():
    """The Keras backend name ("tensorflow", "jax", ...)."""
    return keras.backend.backend()


def num_replicas():
    """Replicas whose summed gradients make one update (1 off tf.distribute).

    On TensorFlow the current `tf.distribute` strategy's replica count; on
    JAX (one program, the batch is not split across replicas by kdl) 1.
    """
    if backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.get_strategy().num_replicas_in_sync
    return 1


def _check_backend(model):
    if backend() not in ("tensorflow", "jax"):
        raise NotImplementedError(
            f"{model.__class__.__name__}'s training step supports the "
            "TensorFlow and JAX backends. Received: backend="
            f"{backend()!r}"
        )


def _run_stateless(groups, values, fn, *args):
    """`fn(*args)` with `groups` of variables read from `values`.

    Returns `(result, new_values)`: the values of the same groups after
    the assignments `fn` made (unchanged where it made none).
    """
    mapping = [
        (variable, value)
        for group, group_values in zip(groups, values)
        for variable, value in zip(group, group_values)
    ]
    _STEP_VARIABLES.append([variable for variable, _ in mapping])
    try:
        with keras.StatelessScope(state_mapping=mapping) as scope:
            result = fn(*args)
    finally:
        _STEP_VARIABLES.pop()
    new_values = []
    for group, group_values in zip(groups, values):
        new_group = []
        for variable, value in zip(group, group_values):
            new = scope.get_current_value(variable)
            new_group.append(value if new is None else new)
        new_values.append(new_group)
    return result, tuple(new_values)


def train_step(model, args, fn):
    """Runs the stateful step `fn(data)` as `model.train_step(*args)`.

    Args:
        model: the compiled `keras.Model`.
        args: the arguments Keras passed to `train_step`: `(data,)` on
            TensorFlow, `(state, data)` on JAX.
        fn: `fn(data) -> logs`, the step written with stateful variable
            updates and `value_and_grad`.

    Returns:
        `logs` on TensorFlow, `(logs, state)` on JAX.
    """
    _check_backend(model)
    if backend() != "jax":
        (data,) = args
        return fn(data)
    state, data = args
    groups = (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )
    return _run_stateless(groups, state, fn, data)


def test_step(model, args, fn):
    """Runs the stateful step `fn(data)` as `model.test_step(*args)`.

    As `train_step`, with the JAX state `(trainable, non_trainable,
    metrics)` (no optimizer variables).
    """
    _check_backend(model)
    if backend() != "jax":
        (data,) = args
        return fn(data)
    state, data = args
    groups = (
        model.trainable_variables,
        model.non_trainable_variables,
        model.metrics_variables,
    )
    return _run_stateless(groups, state, fn, data)


def value_and_grad(fn, weights, has_aux=False, inputs=()):
    """`fn()`'s value and its gradients with respect to `weights`.

    Call inside a step run by `train_step` (on JAX it reads the current
    variable values from the step's scope).

    Args:
        fn: a function returning a scalar loss, or `(loss, aux)` with
            `has_aux=True` (`aux` a nest of tensors), called as
            `fn(*inputs)`. Assignments it makes to variables (moving
            statistics, seed states) take effect as in a stateful call.
        weights: the `keras.Variable`s to differentiate with respect to.
        has_aux: whether `fn` returns `(loss, aux)`.
        inputs: tensors passed to `fn` and differentiated with respect to
            too (e.g. gathered table rows: `kdl.models.GLO` on JAX).

    Returns:
        `(value, grads)`: what `fn` returned and one gradient per weight,
        then one per input (zeros on JAX, `None` on TensorFlow, for a
        weight the loss does not use; `optimizer.apply` skips `None`).
    """
    weights = list(weights)
    inputs = list(inputs)
    if backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(inputs)
            value = fn(*inputs)
        loss = value[0] if has_aux else value
        return value, tape.gradient(loss, weights + inputs)
    if backend() != "jax":
        raise NotImplementedError(
            "value_and_grad supports the TensorFlow and JAX backends. "
            f"Received: backend={backend()!r}"
        )
    import jax

    if not _STEP_VARIABLES:
        raise ValueError(
            "On JAX, `value_and_grad` must be called inside a step run by "
            "`kdl.models.custom_steps.train_step`."
        )
    weight_ids = {id(w) for w in weights}
    others = [v for v in _STEP_VARIABLES[-1] if id(v) not in weight_ids]
    # Read in the step's scope: the current (possibly updated) values.
    other_values = [v.value for v in others]
    weight_values = [w.value for w in weights]

    def pure(weight_values, input_values, other_values):
        mapping = list(zip(weights, weight_values)) + list(
            zip(others, other_values)
        )
        with keras.StatelessScope(
            state_mapping=mapping, collect_losses=True
        ) as scope:
            value = fn(*input_values)
        updates = [scope.get_current_value(v) for v in others]
        loss = value[0] if has_aux else value
        return loss, (value, updates)

    (_, (value, updates)), (grads, input_grads) = jax.value_and_grad(
        pure, argnums=(0, 1), has_aux=True
    )(weight_values, inputs, other_values)
    for variable, update in zip(others, updates):
        if update is not None:
            variable.assign(update)
    return value, list(grads) + list(input_grads)


def apply_gradients(model, grads, weights):
    """`model.optimizer.apply(grads, weights)` inside a step, any backend.

    On JAX a stateful `apply` of a `keras.optimizers.LossScaleOptimizer`
    assigns inside `ops.cond` branches, which leaks tracers from a
    compiled step; here the optimizer's `stateless_apply` is used instead,
    on the current values of `model.trainable_variables` (the variables
    Keras built the optimizer with; `weights` must be among them, the
    others get no gradient), and the new values are assigned in the step's
    scope.
    """
    weights = list(weights)
    if backend() != "jax":
        model.optimizer.apply(grads, weights)
        return
    by_id = {id(w): g for w, g in zip(weights, grads)}
    trainable = model.trainable_variables
    missing = set(by_id) - {id(v) for v in trainable}
    if missing:
        raise ValueError(
            "apply_gradients updates `model.trainable_variables` only. "
            f"Received: {len(missing)} other weight(s) in `weights`."
        )
    optimizer_variables = model.optimizer.variables
    new_trainable, new_optimizer = model.optimizer.stateless_apply(
        [v.value for v in optimizer_variables],
        [by_id.get(id(v)) for v in trainable],
        [v.value for v in trainable],
    )
    for variable, value in zip(trainable, new_trainable):
        variable.assign(value)
    for variable, value in zip(optimizer_variables, new_optimizer):
        variable.assign(value)


def jax_jit(layer, fn, static_argnums=()):
    """`fn` of a layer's variables compiled with `jax.jit` (JAX only).

    A plain `jax.jit(fn)` would bake the variables `fn` reads into the
    compiled function as constants, stale after the next training step.
    Here the compiled function takes the current values of
    `layer.variables` as an argument, read through a `keras.StatelessScope`
    (as `Layer.stateless_call` does), so one compilation serves every later
    value of the weights. Assignments `fn` makes are dropped (use it for
    inference, e.g. decoding loops).

    Args:
        layer: the `keras.Layer` (or model) whose variables `fn` reads.
        fn: the function to compile.
        static_argnums: indices of `fn`'s arguments that are static Python
            values (a new value compiles again), as in `jax.jit`.

    Returns:
        A function with `fn`'s signature.
    """
    import jax

    variables = list(layer.variables)

    def pure(values, *args):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return fn(*args)

    compiled = jax.jit(
        pure, static_argnums=tuple(i + 1 for i in static_argnums)
    )

    def call(*args):
        return compiled([v.value for v in variables], *args)

    return call
