r"""python recipes/batchnorm.py --output_dir=out/batchnorm

Two batch-norm claims on Fashion-MNIST, at CPU scale, over --seeds (0,1,2):
1. Batch renorm (Ioffe 2017) repairs batch norm where it fails: (a) i.i.d.
   minibatches of 2 and 4; (b) non-i.i.d. minibatches of 32 from 2 random
   classes each (`kdl.datasets.class_grouped_batches`; paper, ImageNet: BN
   67 %, renorm 76.5 %); i.i.d. test set. Arms, --renorm_steps 2000 each:
   none, Keras BN, `kdl.layers.BatchRenormalization` (its defaults: warm-up
   100, dmax 5 at 500, rmax 3 at 800 steps), Keras's
   `BatchNormalization(renorm=True)` (its defaults: r, d unclipped).
2. Ghost BN (Hoffer et al. 2017): the gap of batch 2048 vs 64 (the paper's
   4096 vs 128, halved) at equal epochs (--epochs 10 of the small batch)
   and trained longer (equal steps), the large batch's Adam rate scaled by
   sqrt(2048 / 64) as the paper scales SGD's (--lr_scaling). Arms: BN,
   ghost BN (virtual batches 128, 32); gap: large arm - small-batch BN.
Model: `kdl.models.build_normalized_mlp` (784-100-100-10, norm before ReLU,
momentum 0.99), Adam 1e-3; 12,288 training images (a fixed shuffle), 10K
test images; every arm and seed cached. Budget: 11.2 min (measured).
"""

import functools

import keras
import numpy as np
from absl import app
from absl import flags

import kdl
from kdl import training

PARTS = ("renorm", "ghost")
RENORM_NORMS = ("none", "bn", "renorm", "keras_renorm")
NAMES = dict(none="none", bn="BN", renorm="kdl renorm", ghost="ghost({})")
NAMES.update(keras_renorm="Keras renorm")
SELECTION = ("parts", "seeds", "small_batches", "smoke")  # which arms run
SELECTION += ("tune_variant", "max_trials")  # (--smoke: its values count)
GROUPED_FLAGS = ("grouped_batch", "classes_per_batch")  # flags of each part
RENORM_FLAGS = ("renorm_steps",) + GROUPED_FLAGS
GHOST_FLAGS = ("epochs", "batch_size", "large_batch", "lr_scaling")
GHOST_FLAGS += ("virtual_batch_sizes",)
SMOKE = dict(train_examples=256, test_examples=128, hidden_units=[8], evals=2)
SMOKE.update(renorm_steps=4, small_batches=[4], grouped_batch=8, seeds=[0])
SMOKE.update(large_batch=64, batch_size=16, epochs=1, virtual_batch_sizes=[16])
IID = functools.partial(kdl.datasets.image_dataset, drop_remainder=True)
PAPER = {
    "renorm": "renorm beats BN on small / non-i.i.d. minibatches (ImageNet,"
    " non-i.i.d.: BN 67 %, renorm 76.5 %)",
    "epochs": "large batches generalise worse; ghost BN narrows the gap",
    "steps": "training longer (equal steps, sqrt-scaled rate) closes it",
}


def define_flags(flag_values=flags.FLAGS):
    defaults = dict(epochs=10, batch_size=64, max_trials=8)
    training.define_common_flags(
        flag_values, output_dir="out/batchnorm", **defaults
    )  # --epochs, --batch_size: the ghost part's small-batch run
    fv = {"flag_values": flag_values}
    integer = functools.partial(flags.DEFINE_integer, lower_bound=1, **fv)
    integer("train_examples", 12288, "Train images (0: all).", lower_bound=0)
    integer("test_examples", 0, "Test images (0: all).", lower_bound=0)
    integer("renorm_steps", 2000, "Training steps of each renorm arm.")
    integer("grouped_batch", 32, "Non-i.i.d. batch size.")
    integer("classes_per_batch", 2, "Classes in a non-i.i.d. batch.")
    integer("large_batch", 2048, "Ghost part: the large batch.")
    integer("evals", 10, "Test evaluations per arm (curves).")
    integer("steps_per_execution", 10, "Train steps per graph call.")
    lists = functools.partial(training.define_list, **fv)
    lists("parts", PARTS, "Parts to run.", choices=PARTS)
    lists("seeds", [0, 1, 2], "Seeds (one arm each).", min_value=0)
    lists("small_batches", [2, 4], "Renorm part: i.i.d. batches.", min_value=2)
    lists("virtual_batch_sizes", [128, 32], "Ghost batches.", min_value=1)
    lists("hidden_units", [100, 100], "MLP hidden layers.", min_value=1)
    enum = functools.partial(flags.DEFINE_enum, **fv)
    enum("lr_scaling", "sqrt", ["sqrt", "none"], "Large-batch rate scaling.")
    enum("tune_variant", "bn", kdl.models.MLP_NORM_VARIANTS, "For --tune.")
    flags.DEFINE_float("bn_momentum", 0.99, "Moving-average momentum.", **fv)
    flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.", **fv)
    flags.DEFINE_bool("jit_compile", False, "XLA train steps.", **fv)


def train_arm(env, name, data, train, norm, steps, learning_rate, seed):
    """Trains one MLP `steps` steps on `train` batches; scores it."""
    cfg, ghost = env.settings, norm.startswith("ghost")  # e.g. "ghost32"
    keras.utils.set_random_seed(seed)
    shape = train.element_spec[0].shape[1:]  # (28, 28, 1)
    options = dict(momentum=cfg.bn_momentum, hidden_units=cfg.hidden_units)
    if ghost:
        norm, options["virtual_batch_size"] = "ghost", int(norm[5:])
    with env.strategy.scope():
        model = kdl.models.build_normalized_mlp(norm, shape, **options)
    return kdl.models.train_for_steps(
        *(model, env.path(name), train, data[1]),
        steps=steps,
        eval_every=max(steps // cfg.evals, 1),
        learning_rate=learning_rate,
        strategy=env.strategy,
        **{k: cfg[k] for k in ("jit_compile", "steps_per_execution")},
    )


def renorm_arm(env, name, data, setting, norm, seed):
    """One normalization in one of BN's failure modes: i.i.d. batches of
    a few examples ("b2", "b4") or non-i.i.d. batches ("grouped")."""
    cfg, (x, y) = env.settings, data[0]
    if setting == "grouped":
        epochs = -(-cfg.renorm_steps * cfg.grouped_batch // len(x)) + 1
        train = kdl.datasets.class_grouped_batches(
            *(x, y, cfg.grouped_batch, cfg.classes_per_batch, seed, epochs)
        )
    else:
        train = IID(x, y, int(setting[1:]), seed=seed)
    steps, lr = cfg.renorm_steps, cfg.learning_rate
    return train_arm(env, name, data, train, norm, steps, lr, seed)


def ghost_arm(env, name, data, batch, norm, steps, seed):
    """BN or ghost BN at one batch size for `steps` steps; the learning
    rate scaled by sqrt(batch / --batch_size) with --lr_scaling=sqrt."""
    cfg, (x, y) = env.settings, data[0]
    ratio = batch / cfg.batch_size if cfg.lr_scaling == "sqrt" else 1.0
    train = IID(x, y, batch, seed=seed)
    lr = cfg.learning_rate * float(np.sqrt(ratio))
    return train_arm(env, name, data, train, norm, steps, lr, seed)


def tune(env, data):
    cfg, (x, y) = env.settings, data[0]
    train = kdl.datasets.image_dataset(x, y, cfg.batch_size, seed=cfg.seed)
    test = kdl.datasets.image_dataset(*data[1], 1000, shuffle=False)
    shape, classes = train.element_spec[0].shape[1:], int(y.max()) + 1
    hypermodel = kdl.tuning.BatchNormMLPHyperModel(
        cfg.tune_variant, len(cfg.hidden_units), shape, classes
    )
    fit_kwargs = dict(x=train, validation_data=test, epochs=cfg.epochs)
    return training.tune(hypermodel, env, "val_accuracy", **fit_kwargs)


def report(env, name, groups, rows, fmt=".3f"):
    """Plot, table (mean +- sd) and README rows of one part."""
    ylabel = "test accuracy" if name == "renorm" else "test accuracy gap"
    training.plot_seed_points(groups, env.path(f"{name}.png"), ylabel=ylabel)
    table = training.save_seed_table(groups, env.path(f"{name}.md"), fmt)
    seeds = f"{len(env.settings.seeds)} seeds"
    for row, (what, arms) in zip(rows, groups.items()):
        row["what"] = f"Fashion-MNIST MLP, {what}, {seeds}: " + " / ".join(arms)
        row["ours"] = " / ".join(
            training.mean_sd(v, fmt) for v in arms.values()
        )
    return rows, table


def renorm_report(env, acc):
    """README rows: kdl renorm vs BN per setting (`lead_verdict`); n/a
    where BN's mean is no worse than no normalization's (nothing to repair)."""
    cfg, groups, rows, lead = env.settings, {}, [], training.lead_verdict
    for setting, by_norm in acc.items():
        what = f"test acc., i.i.d. batch {setting[1:]}"
        if setting == "grouped":
            k = cfg.classes_per_batch
            what = f"test acc., batch {cfg.grouped_batch} of {k} classes"
        what += f", {cfg.renorm_steps} steps"
        groups[what] = {NAMES[n]: v for n, v in by_norm.items()}
        fails = np.mean(by_norm["bn"]) < np.mean(by_norm["none"])
        holds = lead(by_norm["renorm"], by_norm["bn"]) if fails else "n/a"
        rows.append({"paper": PAPER["renorm"], "holds": holds})
    return report(env, "renorm", groups, rows)


def ghost_report(env, small_bn, large):
    """Gaps: large-batch arm - small-batch BN, per seed. README rows: equal
    epochs: ghost BN's gap smaller than BN's (`lead_verdict`; partly when
    the virtual batches differ; n/a without a gap); equal steps: yes when
    every arm's gap is closed (mean + sd >= 0), partly when one narrowed."""
    cfg, lead = env.settings, training.lead_verdict
    what = f"test acc. gap of batch {cfg.large_batch} - {cfg.batch_size}, "
    what += f"equal {{}} ({cfg.epochs} epochs of batch {cfg.batch_size})"
    groups = {
        what.format(r): {
            NAMES[n[:5]].format(n[5:]): np.subtract(v, small_bn)
            for n, v in by_norm.items()
        }
        for r, by_norm in large.items()
    }
    epochs, steps = groups.values()
    ghost = {lead(epochs[n], epochs["BN"]) for n in list(epochs)[1:]}
    holds = [ghost.pop() if len(ghost) == 1 else "partly" if ghost else "n/a"]
    holds[0] = "n/a" if np.mean(epochs["BN"]) >= 0 else holds[0]
    sd = {n: np.std(g, ddof=int(len(g) > 1)) for n, g in steps.items()}
    closed = all(np.mean(g) + sd[n] >= 0 for n, g in steps.items())
    narrowed = any(np.mean(steps[n]) > np.mean(epochs[n]) for n in steps)
    holds.append("yes" if closed else "partly" if narrowed else "no")
    rows = [{"paper": PAPER[r], "holds": h} for r, h in zip(large, holds)]
    return report(env, "ghost", groups, rows, "+.3f")


def run(flags_obj, datasets_override=None, strategy_override=None):
    env = training.setup(flags_obj, strategy_override, SMOKE)
    cfg = env.settings
    images = datasets_override or kdl.datasets.load_images("fashion_mnist")
    data = training.subsample(images, cfg.train_examples, cfg.test_examples)
    if cfg.tune:
        return tune(env, data)
    n = len(data[0][0])
    # Data passed in is named by no flag: its sizes join the cache key.
    key = {"data": [n, len(data[1][0])]} if datasets_override else {}
    runs, reports, results = {}, [], {"train_examples": n}

    def seeds(name, *args, fn, ignore):  # a cached arm per seed
        for s in cfg.seeds:
            arm = functools.partial(fn, env, f"{name}_seed{s}", data, *args, s)
            runs[f"{name}_seed{s}"] = env.cached(
                f"{name}_seed{s}", arm, ignore=SELECTION + ignore, **key
            )
        return [runs[f"{name}_seed{s}"]["test_accuracy"] for s in cfg.seeds]

    if "renorm" in cfg.parts:
        acc = results["renorm"] = {}
        for st in [f"b{b}" for b in cfg.small_batches] + ["grouped"]:
            ignore = GHOST_FLAGS + (() if st == "grouped" else GROUPED_FLAGS)
            arm = functools.partial(seeds, fn=renorm_arm, ignore=ignore)
            acc[st] = {m: arm(f"{st}_{m}", st, m) for m in RENORM_NORMS}
        reports.append(renorm_report(env, acc))
    if "ghost" in cfg.parts:
        big, small = cfg.large_batch, cfg.batch_size
        steps = {"epochs": n // big, "steps": n // small}  # an epoch's
        steps = {r: cfg.epochs * k for r, k in steps.items()}
        norms = ["bn"] + [f"ghost{v}" for v in cfg.virtual_batch_sizes]
        arm = functools.partial(seeds, fn=ghost_arm, ignore=RENORM_FLAGS)
        small_bn = arm("small_bn", small, "bn", steps["steps"])
        large = {
            r: {m: arm(f"{r}_{m}", big, m, k) for m in norms}
            for r, k in steps.items()
        }
        results["ghost"] = {"small_bn": small_bn, **large}
        reports.append(ghost_report(env, small_bn, large))
    rows = [row for report in reports for row in report[0]]
    tables = "\n\n".join(report[1] for report in reports)
    figures = [f"{p}.png" for p in PARTS if p in cfg.parts]
    results.update(arms=runs, readme_rows=rows, table=tables, figures=figures)
    return env.finish(results, seeds=cfg.seeds)


def main(_):
    run(flags.FLAGS)


if __name__ == "__main__":
    define_flags()
    app.run(main)
