"""kdl.models.language_model_training: the rows of the LM tables."""

import keras
import numpy as np
import pytest

from kdl import training
from kdl.models import language_model_training as lm_training
from tests import test_case


def _stream(n, seed=0, vocab=12):
    # A noisy 4-cycle: n-gram and neural models all learn it.
    rng = np.random.default_rng(seed)
    ids = (np.arange(n) % 4 + 2).astype("int32")
    noise = rng.random(n) < 0.15
    ids[noise] = rng.integers(0, vocab, noise.sum())
    return ids


def test_kneser_ney_rows_tune_the_cache_on_valid_only():
    train, valid, test = _stream(3000), _stream(400, 1), _stream(400, 2)
    kn, cache = lm_training.kneser_ney_rows(train, valid, test, 12, order=3)
    assert kn["model"] == "KN3" and cache["model"] == "KN3 + cache"
    assert 1.0 < kn["test_perplexity"] < 3.0
    # The cache is tuned on valid: it cannot be worse there.
    assert cache["valid_perplexity"] <= kn["valid_perplexity"] + 1e-9
    assert cache["cache_window"] > 0 and 0.0 <= cache["cache_lambda"] <= 1.0
    with pytest.raises(ValueError, match="`valid` must be a 1-D stream"):
        lm_training.kneser_ney_rows(train, [3], test, 12)


def test_feed_forward_lm_row_learns_and_obeys_the_schedule():
    # 2048 training windows: whole batches of 64.
    train, valid, test = _stream(2050), _stream(300, 1), _stream(300, 2)
    halving = training.LearningRateHalving(max_halvings=0)
    model, row = lm_training.train_feed_forward_lm(
        train, valid, test, 12, order=3, embedding_dim=8, hidden_units=16,
        batch_size=64, learning_rate=1e-2, epochs=6, callbacks=[halving],
    )  # fmt: skip
    assert row["model"] == "FFNN3" and row["epochs"] <= 6
    assert row["test_perplexity"] < 4.0  # uniform over 12 ids: 12
    assert row["parameters"] == model.count_params()
    assert len(row["valid_perplexity_per_epoch"]) == row["epochs"]
    # The first stall stops (max_halvings=0) and the best epoch is kept.
    best = min(row["valid_perplexity_per_epoch"])
    assert row["valid_perplexity"] == pytest.approx(best, rel=0.05)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.distribute"
)
def test_feed_forward_lm_trains_in_the_strategy():
    # Built and trained in the strategy's scope, on 2 replicas. Not equal
    # to one device: Keras's fit under MirroredStrategy draws other
    # shuffle orders (unshuffled, the two agree to 1e-8); under several
    # workers kdl's loop matches one device (multi_worker_recipes_test).
    splits = _stream(260), _stream(100, 1), _stream(100, 2)
    options = dict(
        order=3, embedding_dim=4, hidden_units=8, batch_size=128, epochs=2,
        softmax="adaptive", cutoffs=[4, 8],
    )  # fmt: skip
    rows = [
        lm_training.train_feed_forward_lm(
            *splits, 12, strategy=strategy, **options
        )
        for strategy in (None, test_case.two_replica_strategy())
    ]
    assert rows[1][0].distribute_strategy.num_replicas_in_sync == 2
    curves = [row["valid_perplexity_per_epoch"] for _, row in rows]
    assert curves[1][1] < curves[1][0]  # it learns
    np.testing.assert_allclose(curves[1], curves[0], rtol=0.01)


@pytest.mark.parametrize("softmax", ["full", "adaptive"])
def test_rnn_row(softmax):
    splits = (_stream(2000), _stream(300, 1), _stream(300, 2))
    row = lm_training.train_rnn_language_model(
        splits, 12, "scrn", seed=1, batch_size=4, bptt=8, epochs=2,
        sample_length=3, units=8, context_units=4, embedding_dim=8,
        learning_rate=1e-2, softmax=softmax,
        cutoffs=[4, 8] if softmax == "adaptive" else None,
    )  # fmt: skip
    assert row["epochs"] == 2 and row["test_perplexity"] < 6.0
    assert len(row["sample_ids"]) == 5 + 3
    assert row["tokens_per_second"] > 0


def test_summarize_runs():
    runs = [
        dict(valid_perplexity=10.0, test_perplexity=12.0, epochs=3,
             tokens_per_second=100.0),
        dict(valid_perplexity=11.0, test_perplexity=14.0, epochs=5,
             tokens_per_second=300.0),
    ]  # fmt: skip
    row = lm_training.summarize_runs("LSTM", runs, hidden="8")
    assert row["test_perplexity"] == 13.0 and row["valid_perplexity"] == 10.5
    assert row["test_perplexity_sd"] == pytest.approx(np.sqrt(2.0))
    assert row["test"] == "13.0 ± 1.4" and row["epochs"] == "3 5"
    assert row["seeds"] == 2 and row["tokens_per_second"] == 200.0
    assert row["hidden"] == "8" and row["runs"] == runs
    kn = lm_training.summarize_runs(
        "KN5", [dict(valid_perplexity=1.0, test_perplexity=2.0)]
    )
    assert kn["seeds"] == "-" and kn["epochs"] == "-"
    assert kn["test_perplexity_sd"] == 0.0 and kn["tokens_per_second"] is None
    with pytest.raises(ValueError, match="`runs` must not be empty"):
        lm_training.summarize_runs("x", [])
