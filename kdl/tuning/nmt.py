"""KerasTuner HyperModel for the attention translation recipe."""

import keras_tuner

from kdl.models import build_translation_model

# Per dataset: the recipe flag defaults (kjv_rv1909) and the model flags of
# its fast `--dataset=dates` command (recipes/nmt_attention.py docstring).
PRESETS = {
    "kjv_rv1909": {
        "units": 128,
        "embedding_dim": 128,
        "attention_units": 128,
        "cell": "gru",
        "dropout": 0.2,
        "learning_rate": 2e-3,
    },
    "dates": {
        "units": 128,
        "embedding_dim": 64,
        "attention_units": 64,
        "cell": "gru",
        "dropout": 0.0,
        "learning_rate": 3e-3,
    },
}


class NMTHyperModel(keras_tuner.HyperModel):
    """Searches the size and training of `Seq2SeqAttention` / `Seq2Seq`.

    Hyperparameters (defaults = the recipe defaults of the preset):
    `units`, `embedding_dim`, `attention_units`, `cell` ("gru"/"lstm"),
    `dropout`, `learning_rate` and `attention` (bool; False builds the
    no-attention baseline).

    Args:
        source_vocab_size, target_vocab_size, start_id, end_id: the data.
        defaults: a dict overriding `PRESETS[preset]`.
        preset: "kjv_rv1909" or "dates".
        max_output_length: the decode limit of the built models.
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        start_id,
        end_id,
        defaults=None,
        preset="kjv_rv1909",
        max_output_length=100,
        name="nmt",
        tunable=True,
    ):
        super().__init__(name=name, tunable=tunable)
        if preset not in PRESETS:
            raise ValueError(
                f"`preset` must be one of {sorted(PRESETS)}. "
                f"Received: preset={preset!r}"
            )
        self.source_vocab_size = int(source_vocab_size)
        self.target_vocab_size = int(target_vocab_size)
        self.start_id = int(start_id)
        self.end_id = int(end_id)
        self.max_output_length = int(max_output_length)
        self.defaults = {**PRESETS[preset], **(defaults or {})}

    def build(self, hp):
        d = self.defaults
        units = hp.Int("units", 32, 512, step=32, default=d["units"])
        embedding_dim = hp.Int(
            "embedding_dim", 16, 256, step=16, default=d["embedding_dim"]
        )
        attention_units = hp.Int(
            "attention_units", 16, 512, step=16, default=d["attention_units"]
        )
        cell = hp.Choice("cell", ["gru", "lstm"], default=d["cell"])
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=d["dropout"])
        learning_rate = hp.Float(
            "learning_rate",
            1e-4,
            1e-2,
            sampling="log",
            default=d["learning_rate"],
        )
        attention = hp.Boolean("attention", default=True)
        return build_translation_model(
            self.source_vocab_size,
            self.target_vocab_size,
            self.start_id,
            self.end_id,
            attention=attention,
            embedding_dim=embedding_dim,
            units=units,
            attention_units=attention_units,
            cell=cell,
            dropout=dropout,
            learning_rate=learning_rate,
            max_output_length=self.max_output_length,
        )
