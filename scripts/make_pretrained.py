"""Ship a trained policy as the pretrained agent: copy it into assets/ and write its card.

    python scripts/make_pretrained.py RUN_DIR/best_policy.pt --command "python -m lab train ..."

The card's evaluation uses 100 episodes on seeds 100000..100099, which no training
run or tuning evaluation uses (training evaluations start at run.eval_seed=10000).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from lab.checkpoint import read_checkpoint_file
from lab.evaluation import evaluate
from lab.io import atomic_write_json
from lab.policy import PRETRAINED_CARD, PRETRAINED_POLICY, load_policy

CARD_SEED = 100_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy", help="policy.pt / best_policy.pt / checkpoint.pt of the run to ship")
    parser.add_argument("--command", required=True, help="the exact command that trained it")
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args()

    source = Path(args.policy)
    run_dir = source.parent
    summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
    config = (run_dir / "config.yaml").read_text() if (run_dir / "config.yaml").exists() else None
    meta = read_checkpoint_file(source)
    started = time.perf_counter()
    result = evaluate(load_policy(source), episodes=args.episodes, seed=CARD_SEED)
    PRETRAINED_POLICY.parent.mkdir(parents=True, exist_ok=True)
    tmp = PRETRAINED_POLICY.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(PRETRAINED_POLICY)
    card = {
        "command": args.command,
        "seed": _seed_from(config),
        "env_steps": int(meta.get("env_step", summary.get("env_step", 0))),
        "train_wall_seconds": summary.get("train_seconds"),
        "network": meta["network"],
        "evaluation": {
            "episodes": args.episodes, "seeds": f"{CARD_SEED}..{CARD_SEED + args.episodes - 1}",
            "mean_return": round(result.mean_return, 2), "std_return": round(result.std_return, 2),
            "success_rate": result.success_rate, "min_return": round(min(result.returns), 2),
            "outcomes": result.outcomes, "seconds": round(time.perf_counter() - started, 1),
        },
    }
    atomic_write_json(PRETRAINED_CARD, card)
    print(json.dumps(card, indent=2))


def _seed_from(config_text: str | None) -> int | None:
    if not config_text:
        return None
    import yaml

    return yaml.safe_load(config_text).get("run", {}).get("seed")


if __name__ == "__main__":
    main()
