# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Hyperparameter playground: A/B, live
#
# One panel trains two agents side by side, **A** and **B** (same settings, seeds 0 and 1), in one
# `lab.Population`. Every chart draws one coloured line per agent. The **Change:** selector above the
# tabs says where a slider goes: to *All agents*, or to one agent only. So an experiment is a live A/B:
# change a setting for B alone and watch its lines part from A's, on the same clock. Each experiment
# says what to change and what to look for; run the cells, which do the same through
# `panel.set(name, value, agent=...)`, or drag the sliders yourself while the agents train.
#
# The panel's tabs:
#
# | tab | what it holds | per agent, live? |
# |---|---|---|
# | Learning | actor and critic lr (log scale), tau, policy delay | per agent |
# | Learning | batch size, updates/step | all agents at once |
# | Exploration | sigma, theta, noise scale | per agent |
# | Shaping | reward shaping on/off | per agent |
# | Network | hidden sizes, LayerNorm | every agent, on restart |
# | Run | total steps, number of envs, seed | every agent, on restart |
#
# A population trains with uniform replay, so prioritized replay (PER) needs a single-agent panel:
# `TrainingPanel(config)`. Values the engine would refuse cannot be picked; if it refuses one anyway,
# the panel says why in red.

# %%
import os
import tempfile
from pathlib import Path

SMOKE = os.environ.get("LAB_SMOKE") == "1"  # the test suite sets this: every budget shrinks to seconds
ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
RUNS = Path(tempfile.mkdtemp(prefix="lab-smoke-")) if SMOKE else ROOT / "runs"
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame draws the HUD off screen

# %% [markdown]
# Each A/B run below trains both agents for 80,000 env steps from the `guided` preset (`fast` with a
# warm-up flown by Gymnasium's hand-written pilot, as in the quickstart). Trained alone, `guided` lands
# (a 10-episode evaluation mean of 200) on all 10 of the README's report seeds within 80,000 steps
# (median 35,000); agent A's seed 0 lands at 50,000 and agent B's seed 1 at 75,000 (README, performance
# section). A population's agents are not those runs bit for bit: trained as this panel trains them,
# one population of two, they landed at 25,000 and 30,000 on the README's machine; yours may land sooner
# or later, and the experiments below change B on purpose. The two agents train as one batched
# population, so a run takes about 1.3 times as long as one agent's would: five to seven minutes on the
# README's machine.

# %%
from lab.presets import preset
from widgets import TrainingPanel

BUDGET = 600 if SMOKE else 80_000  # env steps per agent: 10 of 10 seeds land within it, trained alone (above)
config = preset("tiny" if SMOKE else "guided").with_overrides({
    "run.out_dir": str(RUNS),
    "run.total_steps": BUDGET,
    "run.eval_every": BUDGET // 2,
    "env.reward_shaping": False,
})
A, B = 0, 1
panel = TrainingPanel(config, agents=2, name="playground")
panel

# %% [markdown]
# ## Experiment 1: exploration noise for B only, and the outcome mix
#
# TD3 explores by adding noise to its actions. Too little and it never finds the pad; too much and
# it cannot hold a landing it has learned. Start both agents, let them learn for a third of the
# budget, then raise **sigma** (Exploration tab) to 0.5 *for agent B only*.
#
# Look at the *Outcomes by agent* bars: B's share of crashes and fly-offs grows while A's mix keeps
# its course, because every action B takes is shaken. A ▼ in B's colour marks the change.

# %%
panel.start()
panel.wait(steps=BUDGET // 3)
before = panel.most_common_outcomes()
panel.set("sigma", 0.5, agent=B)  # the same as picking B in the selector and dragging sigma
panel.wait(steps=2 * BUDGET // 3)
after = panel.most_common_outcomes()
for agent, name in ((A, "A"), (B, "B")):
    print(f"agent {name}: sigma {panel.population.hyperparameters(agent)['sigma']:.2f} · most common outcome "
          f"before {before[agent]} · after {after[agent]}")

# %% [markdown]
# ## Experiment 2: reward shaping for B, live
#
# Reward shaping adds small bonuses (descending near the ground, legs down, staying upright) to the
# learning signal. The raw return, which decides success, is untouched. Switch it on for B while both
# train: from that moment B learns from a different signal than A, and their *Return* lines can part.

# %%
panel.set("reward_shaping", True, agent=B)
summary = panel.wait()
for member in summary["members"]:
    print(f"agent {'AB'[member['agent']]} (seed {member['seed']}): step {member['env_step']} · "
          f"best evaluation {member['best_eval']}")

# %% [markdown]
# ## Experiment 3: a slower critic for B, from the start
#
# A new A/B run: everything back to the preset, then B's **critic lr** at a third of A's. Settings made
# before Start reach the new run; both agents start from the same kind of random weights (seeds 0
# and 1) and differ only in that one setting. Compare the *Critic loss* lines, then the two runs below.

# %%
panel.reset_to_preset()
panel.set("critic_lr", config.training.critic_lr / 3, agent=B)
panel.start()
summary = panel.wait()
runs = [Path(member["run_dir"]) for member in summary["members"]]
print("A/B run:", summary["state"], "·", summary["run_dir"])

# %%
from IPython.display import Markdown

from lab.analysis.compare import compare_runs

comparison = compare_runs(runs, window=10 if SMOKE else 50)
Markdown(comparison.markdown())

# %% [markdown]
# ## Your turn
#
# * More agents: `TrainingPanel(config, agents=4)`, then give each its own **tau** (0.002, 0.005, 0.01,
#   0.05): the target networks follow faster and *Critic loss* gets jumpier as tau grows.
# * Set **policy delay** to 1 for one agent: its actor chases a critic that has not settled.
# * Two seeds differ even with equal settings: keep *All agents* selected and watch how far A and B
#   drift apart on their own before you read much into an A/B difference.
# * Prioritized replay: `TrainingPanel(config)` (one agent) has the Replay tab; press **Export config
#   (YAML)** there to keep a setting, then `python -m lab train --config <the file>`.
