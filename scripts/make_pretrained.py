"""Ship a trained policy as the pretrained agent: copy it into assets/ and write its card.

    python scripts/make_pretrained.py RUN_DIR/best_policy.pt --preset guided --command "python -m lab train ..."
    python scripts/make_pretrained.py --card-only          # compare the card's config with its preset again

The card says how the agent was made: the exact command, the run's full config (RUN_DIR/config.yaml), the preset
the command started from, and every field where the run differs from that preset as the preset is today. So the
card stays true when a preset changes: tests/test_pretrained.py fails until ``--card-only`` has recomputed the
differences (no retraining: the policy and its evaluation are kept).

A field that the card's config lacks did not exist when the agent trained; the lab adds fields with defaults that
keep the old behaviour, so such a field counts as its default. A field the card has and today's config lacks is a
retired one and is always listed.

The card's evaluation uses 100 episodes on seeds 100000..100099, which no training run or tuning evaluation uses
(training evaluations start at run.eval_seed=10000); it is also saved as a results record (kind eval) under
benchmarks/results/, which the README's and the docs' figure of the pretrained agent read.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CARD_SEED = 100_000
ABSENT = None
"""How a field that one side does not have shows in the differences."""


def _flat(nested: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {f"{section}.{name}": value for section, values in nested.items() for name, value in values.items()}


def differences(config: dict[str, dict[str, Any]], preset_name: str) -> dict[str, dict[str, Any]]:
    """Every dotted field where the run's config differs from the named preset today: {field: {run, preset}}."""
    from lab.config import Config
    from lab.presets import preset

    run, today, defaults = _flat(config), _flat(preset(preset_name).to_dict()), _flat(Config().to_dict())
    changed = {}
    for key in sorted(set(run) | set(today)):
        mine = run.get(key, defaults.get(key)) if key in today else run[key]
        theirs = today.get(key, ABSENT)
        if key not in today or mine != theirs:
            changed[key] = {"run": mine, "preset": theirs}
    return changed


def describe(card: dict[str, Any]) -> str:
    """The card's note, from its own fields."""
    changed = card["differs_from_preset"]
    listed = ", ".join(changed) if changed else "nothing"
    return (f"Trained from the {card['preset']} preset as it was at commit {card['commit']} (the command above). "
            f"It differs from today's {card['preset']} preset in: {listed} (values under differs_from_preset); "
            "config holds the run's full config.")


def with_comparison(card: dict[str, Any]) -> dict[str, Any]:
    """The card with its differences from its preset, and its note, computed again."""
    card = {**card, "differs_from_preset": differences(card["config"], card["preset"])}
    card["note"] = describe(card)
    return card


def main() -> int:
    from lab.io import atomic_write_json
    from lab.policy import PRETRAINED_CARD, PRETRAINED_POLICY

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy", nargs="?", help="policy.pt / best_policy.pt / checkpoint.pt of the run to ship")
    parser.add_argument("--command", help="the exact command that trained it")
    parser.add_argument("--preset", help="the preset that command started from")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--card-only", action="store_true",
                        help="keep the agent; compare the card's config with its preset today and rewrite the card")
    args = parser.parse_args()
    if args.card_only:
        card = with_comparison(json.loads(PRETRAINED_CARD.read_text()))
        atomic_write_json(PRETRAINED_CARD, card)
        print(json.dumps(card["differs_from_preset"], indent=2))
        return 0
    missing = [flag for flag, value in (("POLICY", args.policy), ("--command", args.command),
                                        ("--preset", args.preset)) if not value]
    if missing:
        parser.error(f"{', '.join(missing)} needed to ship a new agent (or --card-only)")

    import yaml

    from lab.bench.record import git_state
    from lab.checkpoint import read_checkpoint_file
    from lab.evaluation import evaluate
    from lab.policy import load_policy

    source = Path(args.policy)
    run_dir = source.parent
    if not (run_dir / "config.yaml").is_file():
        parser.error(f"{run_dir / 'config.yaml'} is missing: the card needs the run's config")
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    meta = read_checkpoint_file(source)
    started = time.perf_counter()
    result = evaluate(load_policy(source), episodes=args.episodes, seed=CARD_SEED)
    PRETRAINED_POLICY.parent.mkdir(parents=True, exist_ok=True)
    tmp = PRETRAINED_POLICY.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(PRETRAINED_POLICY)
    card = with_comparison({
        "command": args.command,
        "preset": args.preset,
        "commit": git_state()[0][:7],
        "seed": config.get("run", {}).get("seed"),
        "env_steps": int(meta.get("env_step", summary.get("env_step", 0))),
        "train_wall_seconds": summary.get("train_seconds"),
        "network": meta["network"],
        "evaluation": {
            "episodes": args.episodes, "seeds": f"{CARD_SEED}..{CARD_SEED + args.episodes - 1}",
            "mean_return": round(result.mean_return, 2), "std_return": round(result.std_return, 2),
            "success_rate": result.success_rate, "min_return": round(min(result.returns), 2),
            "outcomes": result.outcomes, "seconds": round(time.perf_counter() - started, 1),
        },
        "config": config,
    })
    atomic_write_json(PRETRAINED_CARD, card)
    from lab.bench.record import new_record, save  # the README's and the docs' score reads this record

    record = save(new_record("eval", result.to_dict(), note="written by scripts/make_pretrained.py, which ran this "
                             "command's evaluation on the agent it shipped",
                             command=f"python -m lab eval {PRETRAINED_POLICY.relative_to(ROOT)} --episodes "
                                     f"{args.episodes} --seed {CARD_SEED} --json"))
    print(json.dumps(card, indent=2))
    print(f"saved {record}; then: python scripts/update_readme.py", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
