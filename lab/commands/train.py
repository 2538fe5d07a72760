"""``python -m lab train``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.config import Config

HELP = "Train a TD3 agent and write a run folder."
DESCRIPTION = ("Train TD3 on LunarLanderContinuous. Writes config.yaml, checkpoint.pt, policy.pt and per-episode "
               "metrics (episodes.jsonl) into a new run folder; a folder holding a run is refused unless you "
               "resume it (--resume RUN/checkpoint.pt --out RUN). Ctrl-C saves a checkpoint and exits cleanly. "
               "Options and KEY=VALUE overrides may come in any order; --print-config shows the resulting "
               "configuration without training.")


def default_preset() -> str:
    """The preset a bare ``train`` starts from: the one the README and the notebooks start from (lab.presets)."""
    from lab.presets import FIRST_RUN_PRESET

    return FIRST_RUN_PRESET


def _summary(name: str) -> str:
    """The first sentence of a preset's docstring, where the preset says what it is."""
    from lab.presets import PRESETS

    doc = (PRESETS[name].__doc__ or name).strip().split("\n\n")[0]
    return " ".join(doc.replace("``", "").split()).rstrip(".")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lab.presets import preset_names

    first = default_preset()
    scratch = "" if first == "fast" else "; 'fast' learns from scratch"
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="dotted config overrides, e.g. training.actor_lr=3e-4 run.total_steps=50000")
    parser.add_argument("--preset", default=None, choices=preset_names(),
                        help=f"starting configuration (default: {first}, the preset the README and the notebooks "
                             f"start from, since a first run lands soonest with it: {_summary(first)}{scratch}. "
                             "With --resume: the checkpoint's own)")
    parser.add_argument("--seed", type=int, default=None, metavar="N",
                        help="seed of the run (sets run.seed; for several seeds at once use --seeds)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved configuration (preset or --config, the checkpoint's with --resume, "
                             "then overrides) as YAML and exit without training or making a folder; --config reads "
                             "it back")
    parser.add_argument("--config", default=None, help="a YAML or JSON config file (instead of --preset)")
    parser.add_argument("--out", default=None, help="run folder, new or empty (default: "
                                                    "run.out_dir/<timestamp>_<preset>; with --resume, the "
                                                    "checkpoint's own folder)")
    parser.add_argument("--resume", default=None, metavar="CHECKPOINT",
                        help="continue from a checkpoint (checkpoint.pt, or population.pt with --seeds) with its "
                             "config plus any overrides, each change printed and recorded at the resume step; in the "
                             "checkpoint's own folder (logs past the checkpoint are replaced) or a new, empty --out")
    parser.add_argument("--seeds", nargs="+", default=None, metavar="SEEDS",
                        help="train several seeds at once in one process (lab.Population), e.g. 0-4 or 0 1 2: one "
                             "run folder per seed under one population folder, one progress bar; --resume then "
                             "takes the population's population.pt")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also write TensorBoard logs (scalars, hyperparameters, evaluation clips) into the run "
                             "folder")
    parser.add_argument("--clips", action=argparse.BooleanOptionalAction, default=True,
                        help="keep a short GIF of the deterministic policy at each evaluation (RUN/clips; with "
                             "--seeds in each agent's folder), for 'lab gif --progression RUN'")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (for logs and scripts)")


def run(args: argparse.Namespace) -> int:
    from lab.checkpoint import read_checkpoint_file
    from lab.config import Config
    from lab.presets import preset
    from lab.train.progress import ProgressBar
    from lab.train.run_folder import claim_run_folder
    from lab.train.trainer import Trainer

    if args.preset is not None and args.config is not None:
        raise ValueError(f"--preset {args.preset} and --config {args.config} both choose the starting "
                         "configuration: give one of them")
    overrides = list(args.overrides)
    seed_tokens: list[str] = []
    if args.seeds is not None:
        from lab.seeds import take_overrides

        seed_tokens, trailing = take_overrides(args.seeds)  # KEY=VALUE typed after --seeds
        overrides += trailing
    overrides += seed_override(args.seed, overrides, args.seeds is not None)
    if args.out is not None and args.resume is None and not args.print_config:
        claim_run_folder(args.out)  # refuse before building anything
    if args.config:
        config = Config.load(args.config)
    elif args.resume and args.preset is None:
        config = Config.from_dict(_resumed_config(read_checkpoint_file(args.resume), args))
    else:
        config = preset(args.preset or default_preset())
    config = config.with_overrides(overrides)
    name = "config" if args.config else (args.preset or default_preset())
    if args.print_config:
        return print_config(config, args, name, seed_tokens)
    if args.seeds is not None:
        return _train_seeds(args, config, seed_tokens, name)
    trainer = Trainer(config, run_dir=args.out, name=name, resume=args.resume)
    if not args.no_progress:
        trainer.events.subscribe(ProgressBar(config.run.total_steps, initial=trainer.env_step))
    if args.clips:
        from lab.render.clips import attach_clip_recorders

        attach_clip_recorders(trainer)
    board = None
    if args.tensorboard:
        from lab.analysis.tensorboard import attach_tensorboard

        board = attach_tensorboard(trainer)  # hyperparameters and final metrics are written on close()
    print(f"run folder: {trainer.run_dir}")
    print_resume_changes(trainer.resume_changes)
    try:
        summary = trainer.fit()
    finally:
        trainer.close()
        if board is not None:
            board.close()
    print(json.dumps(summary, indent=2))
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    if summary["state"] in ("finished", "stopped"):
        return 0
    reason = summary.get("error") or trainer.error or "no reason recorded"
    print(f"error: run {summary['state']}: {str(reason).splitlines()[0]}", file=sys.stderr)
    return 1


def print_resume_changes(changes: list[dict[str, tuple[Any, Any]]]) -> None:
    """What a resume's config changed, one line per field (each is recorded in hyperparameters.jsonl too)."""
    for k, diff in enumerate(changes):
        who = f"agent {k}: " if len(changes) > 1 else ""
        for key, (old, new) in diff.items():
            print(f"resume: {who}{key} {old!r} -> {new!r} from the checkpoint's step on "
                  "(recorded in hyperparameters.jsonl)")


def seed_override(seed: int | None, overrides: list[str], with_seeds: bool) -> list[str]:
    """``--seed N`` as the override run.seed=N; refused in one line beside --seeds or a run.seed override."""
    if seed is None:
        return []
    from lab.config import ConfigError, resolve_field

    if with_seeds:
        raise ValueError(f"--seed {seed} and --seeds both choose seeds: give --seed N for one run, or --seeds for "
                         "several at once")
    for item in overrides:
        key = item.partition("=")[0].strip()
        try:
            field = resolve_field(key)
        except ConfigError:
            continue  # an unknown key is named when the overrides are applied
        if field == ("run", "seed"):
            raise ValueError(f"--seed {seed} and the override {item!r} both set run.seed: give one of them")
    return [f"run.seed={seed}"]  # run.seed's own bounds refuse a bad value, naming the field and what is allowed


def print_config(config: Config, args: argparse.Namespace, name: str, seed_tokens: list[str]) -> int:
    """--print-config: the resolved configuration as YAML on stdout, what it came from as comments."""
    source = (f"--config {args.config}" if args.config else f"the checkpoint {args.resume}" if args.resume and
              args.preset is None else f"preset {name}")
    overrides = [*args.overrides, *(t for t in args.seeds or [] if "=" in t)]
    lines = [f"# python -m lab train: {source}" + (f" with {' '.join(overrides)}" if overrides else "")]
    if args.seed is not None:
        lines.append(f"# --seed {args.seed} sets run.seed: {args.seed}")
    if args.seeds is not None:
        from lab.seeds import parse_seeds

        seeds = parse_seeds(seed_tokens)
        lines.append(f"# --seeds: {len(seeds)} agents, each this config with run.seed set to its seed "
                     f"({', '.join(map(str, seeds))})")
    print("\n".join(lines))
    print(config.to_yaml(), end="")
    return 0


def _train_seeds(args: argparse.Namespace, config: Config, seed_tokens: list[str], name: str) -> int:
    """``--seeds``: one lab.Population; options that only make sense for one run are refused by name."""
    from lab.commands.train_seeds import train_seeds
    from lab.seeds import parse_seeds

    seeds = parse_seeds(seed_tokens)
    if args.tensorboard:
        raise ValueError("--tensorboard is not available with --seeds: a population writes one run folder per "
                         "seed without TensorBoard logs; train one seed alone to get them")
    return train_seeds(config, seeds, out=args.out, name=name, progress=not args.no_progress, resume=args.resume,
                       clips=args.clips)


def _resumed_config(data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The config a checkpoint was trained with; a population's needs --seeds and a single run's must not get it."""
    from lab.checkpoint import CheckpointError

    if data.get("kind") == "population":
        seeds = [c["run"]["seed"] for c in data["configs"]]
        if args.seeds is None:
            raise CheckpointError(f"{args.resume!r} is a population checkpoint of {len(seeds)} agents: resume it "
                                  f"with --seeds {' '.join(map(str, seeds))}")
        return dict(data["configs"][0])
    if args.seeds is not None:
        raise CheckpointError(f"--seeds resumes a population checkpoint (population.pt), but {args.resume!r} is a "
                              f"{data.get('kind')} file of one run: drop --seeds")
    if data.get("kind") != "checkpoint":
        raise CheckpointError(f"{args.resume!r} is a {data.get('kind')} file, expected a checkpoint file")
    return data["config"]
