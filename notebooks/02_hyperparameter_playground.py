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
# # Hyperparameter playground
#
# One panel, a few guided experiments. Each experiment says what to change and what to look for.
# You can drag the sliders yourself while a run trains, or run the cells, which do the same through
# `panel.set(name, value)`.
#
# The panel's tabs:
#
# | tab | what it holds | live? |
# |---|---|---|
# | Learning | actor and critic lr (log scale), tau, gamma, batch size, policy delay, updates/step | live |
# | Exploration | noise type (restart), sigma, theta, noise scale | live |
# | Replay | PER on/off (restart), alpha, beta | live |
# | Shaping | reward shaping on/off and its bonuses | live |
# | Network | hidden sizes, LayerNorm | applies on restart |
# | Run | total steps, number of envs, seed | applies on restart |
#
# Values the engine would refuse cannot be picked; if it refuses one anyway, the panel says why in red.

# %%
import os
import tempfile
from pathlib import Path

SMOKE = os.environ.get("LAB_SMOKE") == "1"  # the test suite sets this: every budget shrinks to seconds
ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
RUNS = Path(tempfile.mkdtemp(prefix="lab-smoke-")) if SMOKE else ROOT / "runs"
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame draws the HUD off screen

# %%
from lab.presets import preset
from widgets import TrainingPanel

BUDGET = 600 if SMOKE else 60_000
config = preset("tiny" if SMOKE else "fast").with_overrides({
    "run.out_dir": str(RUNS),
    "run.total_steps": BUDGET,
    "run.eval_every": BUDGET // 2,
    "env.reward_shaping": False,
})
panel = TrainingPanel(config, name="playground")
panel

# %% [markdown]
# ## Experiment 1: exploration noise and the outcome mix
#
# TD3 explores by adding noise to its actions. Too little and it never finds the pad; too much and
# it cannot hold a landing it has learned. Start a run, let it learn for a third of its budget, then
# raise **sigma** (Exploration tab) from its preset value to 0.5.
#
# Look at the *Outcomes* chart: with strong noise, the share of crashes and fly-offs grows, because
# every action the agent takes is shaken. The *Noise scale* chart shows the multiplier on top of sigma.

# %%
panel.start()
panel.wait(steps=BUDGET // 3)
before = panel.run_status.most_common_outcome
panel.set("sigma", 0.5)  # the same as dragging the sigma slider
panel.wait(steps=2 * BUDGET // 3)
print("most common outcome before:", before, "| after raising sigma:", panel.run_status.most_common_outcome)
print("the trainer now uses sigma =", panel.trainer.hyperparameters()["sigma"])

# %% [markdown]
# ## Experiment 2: reward shaping, live
#
# Reward shaping adds small bonuses (descending near the ground, legs down, staying upright) to the
# learning signal. The raw return, which decides success, is untouched. Switch it on while the run
# trains and compare the two lines of the *Shaped vs raw* chart: they part ways from that moment.

# %%
panel.set("reward_shaping", True)
summary = panel.wait()
first_run = panel.trainer.run_dir
print("run 1:", summary["state"], "at step", summary["env_step"], "· best evaluation", summary["best_eval"])

# %% [markdown]
# ## Experiment 3: prioritized replay off and on
#
# Prioritized experience replay (PER) samples transitions with a large TD error more often, and
# corrects the bias with importance weights (beta). Switching PER changes the replay buffer itself,
# so it *applies on restart*: the next Start begins a new run with the same seed. Compare the two runs
# below; with a longer budget, compare their evaluation points.

# %%
panel.reset_to_preset()  # back to the starting config (sigma, shaping), so only PER differs
panel.set("use_per", not config.training.use_per)
panel.start()
summary = panel.wait()
second_run = panel.trainer.run_dir
print("run 2:", summary["state"], "at step", summary["env_step"], "· best evaluation", summary["best_eval"])

# %%
from IPython.display import Markdown

from lab.analysis.compare import compare_runs

comparison = compare_runs([first_run, second_run], window=10 if SMOKE else 50)
Markdown(comparison.markdown())

# %% [markdown]
# ## Your turn
#
# * Halve the **critic lr** mid-run: the *Critic loss* chart calms down, learning slows.
# * Set **policy delay** to 1: the actor chases a critic that has not settled (often less stable).
# * Raise **tau** to 0.05: the target networks follow faster; *Mean Q* gets jumpier.
# * Press **Export config (YAML)** to keep a setting you like, then train it from a terminal:
#   `python -m lab train --config <the file>`.
