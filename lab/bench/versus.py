"""This checkout's training speed against another commit's, as ratios measured in one invocation.

The other commit (a tag such as ``levers-2026-12``, the engine before this one) is exported with
``git archive`` into a temporary folder; each round trains the same preset once with each code base,
in fresh subprocesses on one torch thread, alternating which goes first, and times env steps per
second after the warm-up with each code base's own ``training_rate``. The per-round ratio (this
checkout over the other) is what to quote: both sides of a round share the machine's minute.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
RATE_CODE = {
    # Where each code base keeps training_rate: this checkout, and the engine before it.
    "here": "from lab.bench.throughput import training_rate",
    "before": "from lab.bench import training_rate",
}


def export_ref(ref: str, into: Path) -> Path:
    """The tree of a git ref, unpacked under into (nothing of this checkout changes)."""
    archive = into / "ref.tar"
    try:
        with open(archive, "wb") as out:
            subprocess.run(["git", "-C", str(REPO), "archive", ref], stdout=out, stderr=subprocess.PIPE, check=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        why = exc.stderr.decode().strip() if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        raise ValueError(f"--ref {ref!r} cannot be exported from {REPO}: {why}") from None
    tree = into / "tree"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def rate_in(tree: Path, importer: str, preset: str, steps: int, learning_starts: int,
            overrides: dict[str, Any]) -> float:
    """Training env steps/s of a preset with the code under tree, in a fresh process on one thread."""
    code = (f"import torch; torch.set_num_threads(1)\n{importer}\nfrom lab.presets import preset\n"
            f"config = preset({preset!r}).with_overrides({{'training.learning_starts': {learning_starts}, "
            f"'run.torch_threads': 1, 'run.analyze_episodes': True, **{overrides!r}}})\n"
            f"print(training_rate(config, {steps}))")
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"training with the code in {tree} failed: {tail}")
    return float(done.stdout.strip().splitlines()[-1])


def versus(ref: str, preset: str = "fast", steps: int = 3_000, rounds: int = 3, learning_starts: int = 1_000,
           overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per round, this checkout's and ref's training env steps/s and their ratio; medians over rounds."""
    overrides = overrides or {}
    with tempfile.TemporaryDirectory(prefix="lab-versus-") as folder:
        before = export_ref(ref, Path(folder))
        here_rates: list[float] = []
        before_rates: list[float] = []
        for k in range(rounds):
            order = [("here", REPO), ("before", before)]
            for side, tree in order if k % 2 == 0 else order[::-1]:
                rate = rate_in(tree, RATE_CODE[side], preset, steps, learning_starts, overrides)
                (here_rates if side == "here" else before_rates).append(rate)
    ratios = [h / b for h, b in zip(here_rates, before_rates)]
    return {"ref": ref, "preset": preset, "steps": steps, "learning_starts": learning_starts,
            "here_steps_per_s": here_rates, "ref_steps_per_s": before_rates, "ratios": ratios,
            "median_here": statistics.median(here_rates), "median_ref": statistics.median(before_rates),
            "median_ratio": statistics.median(ratios)}


def describe(result: dict[str, Any]) -> str:
    lines = [f"this checkout vs {result['ref']}: preset {result['preset']}, {result['steps']} timed steps after "
             f"{result['learning_starts']} warm-up, one torch thread, alternating order"]
    for k, (h, b, r) in enumerate(zip(result["here_steps_per_s"], result["ref_steps_per_s"], result["ratios"])):
        lines.append(f"  round {k + 1}: here {h:7.1f} env steps/s, {result['ref']} {b:7.1f}  ({r:.2f}x)")
    lines.append(f"median: here {result['median_here']:.1f}, {result['ref']} {result['median_ref']:.1f}, "
                 f"per-round ratio {result['median_ratio']:.2f}x")
    return "\n".join(lines)


def as_json(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2)
