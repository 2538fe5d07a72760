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
               "resume it (--resume RUN/checkpoint.pt --out RUN). Ctrl-C saves a checkpoint and exits cleanly.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lab.presets import preset_names

    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="dotted config overrides, e.g. training.actor_lr=3e-4 run.total_steps=50000")
    parser.add_argument("--preset", default=None, choices=preset_names(),
                        help="starting configuration (default: fast, or the checkpoint's own with --resume)")
    parser.add_argument("--config", default=None, help="a YAML or JSON config file (instead of --preset)")
    parser.add_argument("--out", default=None, help="run folder, new or empty unless resuming it "
                                                    "(default: run.out_dir/<timestamp>_<preset>)")
    parser.add_argument("--resume", default=None, metavar="CHECKPOINT",
                        help="continue from a checkpoint, with its config plus any overrides; with --out set to the "
                             "checkpoint's own run folder, logs past the checkpoint are replaced")
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
    if args.out is not None and args.resume is None:
        claim_run_folder(args.out)  # refuse before building anything
    if args.config:
        config = Config.load(args.config)
    elif args.resume and args.preset is None:
        config = Config.from_dict(_resumed_config(read_checkpoint_file(args.resume), args))
    else:
        config = preset(args.preset or "fast")
    overrides = list(args.overrides)
    if args.seeds is not None:
        from lab.seeds import take_overrides

        seed_tokens, trailing = take_overrides(args.seeds)  # KEY=VALUE typed after --seeds
        overrides += trailing
    config = config.with_overrides(overrides)
    name = "config" if args.config else (args.preset or "fast")
    if args.seeds is not None:
        return _train_seeds(args, config, seed_tokens, name)
    trainer = Trainer(config, run_dir=args.out, name=name, resume=args.resume)
    if not args.no_progress:
        trainer.events.subscribe(ProgressBar(config.run.total_steps, initial=trainer.env_step))
    if args.clips:
        from lab.render.clips import attach_clip_recorder

        attach_clip_recorder(trainer)
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
