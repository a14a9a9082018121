"""The common start and end of every recipe's `run()`."""

import dataclasses
import os
import typing

import keras
import tensorflow as tf

from kdl.training import multi_worker
from kdl.training.atomic import copy_file
from kdl.training.atomic import write_json
from kdl.training.cache import cached_run
from kdl.training.distribute import get_strategy
from kdl.training.precision import set_precision
from kdl.training.provenance import Clock
from kdl.training.provenance import provenance
from kdl.training.settings import Settings
from kdl.training.settings import make_settings

# Flags that change where or how results are written, not what they are.
NOT_IN_CACHE_KEY = ("output_dir", "results_json", "tune", "tuner", "tpu")


@dataclasses.dataclass(frozen=True)
class RecipeSetup:
    """What `setup` made: strategy, settings (after --smoke), output folder.

    `output_dir` is `--output_dir`, except on a non-chief worker of a
    multi-worker cluster: there it is the worker's temporary mirror of it,
    so only the chief writes results, plots and caches to the shared
    folder (`kdl.training.multi_worker.local_path`).
    """

    strategy: tf.distribute.Strategy
    settings: Settings
    output_dir: str
    clock: typing.Any
    arm_seconds: list = dataclasses.field(default_factory=list)

    @property
    def smoke(self):
        return bool(self.settings.smoke)

    @property
    def seed(self):
        return int(self.settings.seed)

    def path(self, *parts):
        """A path below the output folder (parent folders are made).

        On a non-chief worker of a multi-worker cluster `output_dir` is this
        process's temporary mirror of `--output_dir`, and a file the chief
        has there that the mirror lacks (e.g. the weights of an arm reused
        from an earlier run) is copied in first, so it reads back the same
        on every worker.
        """
        path = os.path.join(self.output_dir, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return multi_worker.copy_chiefs_file(path)

    def cached(self, name, fn, ignore=(), **config):
        """Runs one experiment arm once; reuses it while its config holds.

        The cache key is every setting (all flags after --smoke, except the
        output locations) plus `name` and `config` (e.g. the arm's seed or a
        fingerprint of overridden data). The result lives in
        `output_dir/<name>/result.json`.

        Args:
            name: the arm's folder below the output folder.
            fn: callable with no arguments returning the arm's result.
            ignore: names of flags that only select which arms run (e.g.
                `models`, `parts`), which cannot change this arm's result;
                they are left out of the key so that running a subset
                reuses the finished arms. Everything else stays in.
            **config: extra key entries.
        """
        unknown = sorted(set(ignore) - set(self.settings.to_dict()))
        if unknown:
            raise ValueError(f"`ignore` names unknown flags: {unknown}")
        full = {
            k: v
            for k, v in self.settings.to_dict().items()
            if k not in NOT_IN_CACHE_KEY and k not in ignore
        }
        full.update(arm=name, **config)
        return cached_run(self.path(name), full, fn, timings=self.arm_seconds)

    def publish_figures(self, names):
        """Copies the named plots of `output_dir` beside `--results_json`.

        `results/<stem>.json` gets `results/figures/<stem>/<name>` for each
        name, so the README can show the run's own plots (scripts/report.py
        embeds every file of that folder under the run's table).
        """
        path = multi_worker.local_path(self.settings.results_json)
        stem = os.path.splitext(os.path.basename(path))[0]
        folder = os.path.join(os.path.dirname(path), "figures", stem)
        for name in names:
            copy_file(self.path(name), os.path.join(folder, name))

    def finish(self, results, seeds=None):
        """Adds provenance and writes `results.json` (and `--results_json`).

        In a multi-worker cluster the chief writes them; the other workers
        write to their temporary folder (see `path`). The provenance then
        names the cluster: `cluster` = {"task" (the writer, e.g.
        "worker_0"), "tasks" (per job), "replicas"}.

        Args:
            results: the recipe's results dict; its optional `figures` (file
                names in `output_dir`) are copied beside `--results_json`.
            seeds: the seeds used (default: `[--seed]`).

        Returns:
            The results with their `provenance` block.
        """
        seeds = [self.seed] if seeds is None else list(seeds)
        results = {
            **results,
            "smoke": self.smoke,
            "settings": {
                k: v
                for k, v in self.settings.to_dict().items()
                if k not in ("output_dir", "results_json")
            },
            "provenance": {
                **provenance(self.clock, seeds),
                "arm_seconds": list(self.arm_seconds),
            },
        }
        if multi_worker.is_multi_worker(self.strategy):
            spec = self.strategy.cluster_resolver.cluster_spec().as_dict()
            results["provenance"]["cluster"] = {
                "task": multi_worker.task_name(self.strategy),
                "tasks": {job: len(tasks) for job, tasks in spec.items()},
                "replicas": self.strategy.num_replicas_in_sync,
            }
        write_json(self.path("results.json"), results)
        if self.settings.get_or("results_json", ""):
            self.publish_figures(results.get("figures", ()))
            write_json(
                multi_worker.local_path(self.settings.results_json), results
            )
        print(
            f"wall {results['provenance']['wall_seconds']:.0f} s, "
            f"CPU {results['provenance']['cpu_seconds']:.0f} s"
        )
        return results


def setup(flags_obj, strategy_override=None, smoke_overrides=None):
    """Applies the common flags: seed, precision, strategy, output folder.

    Args:
        flags_obj: the parsed absl flags (or any object with the attributes
            `define_common_flags` defines). Never mutated.
        strategy_override: a `tf.distribute.Strategy` to use instead of the
            `--strategy` flag (tests use this).
        smoke_overrides: the recipe's dict of `--smoke` values.

    Returns:
        A `RecipeSetup`; its `settings` are the flags after `--smoke`.
    """
    clock = Clock()
    settings = make_settings(flags_obj, smoke_overrides)
    if not settings.output_dir:
        raise ValueError(
            "--output_dir must be a non-empty path. "
            f"Received: output_dir={settings.output_dir!r}"
        )
    # The strategy first: a multi-worker one must configure TF's runtime
    # before any op (seeding included) starts it.
    strategy = strategy_override or get_strategy(
        settings.strategy, settings.get_or("tpu", "")
    )
    multi_worker.register_strategy(strategy)
    keras.utils.set_random_seed(settings.seed)
    set_precision(settings.precision)
    # Only the chief writes to --output_dir (see `RecipeSetup.path`).
    output_dir = multi_worker.local_path(settings.output_dir)
    os.makedirs(output_dir, exist_ok=True)
    return RecipeSetup(
        strategy=strategy,
        settings=settings,
        output_dir=output_dir,
        clock=clock,
    )
