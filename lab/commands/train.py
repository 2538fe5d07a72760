"""``python -m lab train``."""

from __future__ import annotations

import argparse
import json
import sys

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
    parser.add_argument("--tensorboard", action="store_true", help="also write TensorBoard logs into the run folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (for logs and scripts)")


def run(args: argparse.Namespace) -> int:
    from lab.checkpoint import read_checkpoint_file
    from lab.config import Config
    from lab.presets import preset
    from lab.progress import ProgressBar
    from lab.run_log import claim_run_folder
    from lab.trainer import Trainer

    if args.preset is not None and args.config is not None:
        raise ValueError(f"--preset {args.preset} and --config {args.config} both choose the starting "
                         "configuration: give one of them")
    if args.out is not None and args.resume is None:
        claim_run_folder(args.out)  # refuse before building anything
    if args.config:
        config = Config.load(args.config)
    elif args.resume and args.preset is None:
        config = Config.from_dict(read_checkpoint_file(args.resume, kind="checkpoint")["config"])
    else:
        config = preset(args.preset or "fast")
    config = config.with_overrides(args.overrides)
    name = "config" if args.config else (args.preset or "fast")
    trainer = Trainer(config, run_dir=args.out, name=name, resume=args.resume)
    if not args.no_progress:
        trainer.events.subscribe(ProgressBar(config.run.total_steps, initial=trainer.env_step))
    if args.tensorboard:
        from lab.analysis.tensorboard import TensorBoardLogger

        board = TensorBoardLogger(trainer.run_dir / "tensorboard")
        trainer.events.subscribe(board)
    print(f"run folder: {trainer.run_dir}")
    try:
        summary = trainer.fit()
    finally:
        trainer.close()
        if args.tensorboard:
            board.close()
    print(json.dumps(summary, indent=2))
    if summary["state"] in ("finished", "stopped"):
        return 0
    reason = summary.get("error") or trainer.error or "no reason recorded"
    print(f"error: run {summary['state']}: {str(reason).splitlines()[0]}", file=sys.stderr)
    return 1
