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
# **What you will learn:** what three of TD3's knobs do (exploration noise, reward shaping, the critic's
# learning rate), by changing each for one agent while an identical one trains beside it on the same
# clock, and how far two agents drift apart on their own before a difference means anything.
#
# **How long it runs:** about 15 minutes on 2 CPU cores: two A/B runs of 80,000 env steps per agent, five
# to seven minutes each, plus their evaluations. The task itself is explained in the
# [quickstart](01_quickstart.ipynb#1.-The-task); terms are in the [glossary](../docs/glossary.md).
#
# One panel trains two agents side by side, **A** and **B** (same settings, *[seeds](../docs/glossary.md#seed)*
# 0 and 1), in one *[population](../docs/glossary.md#population)*. Every chart draws one coloured line per
# agent. The **Change:** selector above the tabs says where a slider goes: to *All agents*, or to one agent
# only. So an experiment is a live A/B: change a setting for B alone and watch its lines part from A's. Each
# experiment says what to change and what to look for; run the cells, which do the same through
# `panel.set(name, value, agent=...)`, or drag the sliders yourself while the agents train.
#
# The panel's tabs:
#
# | tab | what it holds |
# |---|---|
# | Learning | learning rates, tau, gamma, policy delay, target smoothing, batch size, updates per step |
# | Exploration | the exploration noise, the touchdown cut, the warm-up and its pilot |
# | Replay | the buffer and prioritized replay (per agent, for every agent of a panel) |
# | Shaping | reward shaping and its bonuses |
# | Network | hidden layers, LayerNorm, activation |
# | Environment | the env, envs per agent, the time limit, what counts as a success |
# | Run | total steps, seed, evaluations, checkpoints |
#
# A control is *live*, changing the running agents at their next *[update](../docs/glossary.md#update)*, or
# *applies on restart* (a tab's title says so when all of its controls do); it can differ per agent, or is
# shared by all (a batch is one tensor for every agent, for instance). Values the engine would refuse
# cannot be picked; if it refuses one anyway, the panel says why in red.

# %%
from lab.notebook import setup

runs, budget = setup()

# %% [markdown]
# Each A/B run below trains both agents for 80,000 *[env steps](../docs/glossary.md#env-step)* from the
# `guided` *[preset](../docs/glossary.md#preset)* (`fast` with a *[warm-up](../docs/glossary.md#warm-up)*
# flown by Gymnasium's hand-written pilot, as in the quickstart). Trained alone, `guided` lands (a
# 10-episode *[evaluation](../docs/glossary.md#evaluation)* mean of 200) on all 10 of the lab's
# *[report seeds](../docs/glossary.md#report-seeds)* within 80,000 steps (median 35,000). A population's
# agents are not those runs bit for bit: trained as this panel trains them, one population of two, seeds 0
# and 1 landed at 25,000 and 30,000 on the README's machine; yours may land sooner or later, and the
# experiments below change B on purpose. Each agent is evaluated every 5,000 steps, so the *Evaluation*
# chart shows when each lands. The two agents train as one batched population, so a run takes about 1.3
# times as long as one agent's would: five to seven minutes; the panel's status line gives the ETA.

# %%
from lab.presets import preset
from widgets import TrainingPanel

BUDGET = budget(80_000, 600)  # env steps per agent: 10 of 10 seeds land within it, trained alone (above)
config = preset(budget("guided", "tiny")).with_overrides({
    "run.out_dir": str(runs),
    "run.total_steps": BUDGET,
    "run.eval_every": budget(5_000, 300),
    "env.reward_shaping": False,
})
A, B = 0, 1
panel = TrainingPanel(config, agents=2, name="playground")
panel

# %% [markdown]
# ## Experiment 1: exploration noise for B only, and the outcome mix
#
# TD3 explores by adding *[noise](../docs/glossary.md#exploration-noise)* to its actions (its evaluations
# fly without it). Too little and it never finds the pad; too much and it cannot hold a landing it has
# learned. Start both agents, let them learn for a third of the
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
    print(f"agent {name}: sigma {panel.population.hyperparameters(agent)['noise.sigma']:.2f} · most common outcome "
          f"before {before[agent]} · after {after[agent]}")

# %% [markdown]
# ## Experiment 2: reward shaping for B, live
#
# *[Reward shaping](../docs/glossary.md#reward-shaping)* adds small bonuses (descending near the ground,
# legs down, staying upright) to the learning signal. The raw return, which decides success, is untouched.
# Switch it on for B while both train: from that moment B learns from a different signal than A, and their
# *Return* lines can part.

# %%
panel.set("reward_shaping", True, agent=B)
summary = panel.wait()
for member in summary["members"]:
    landed = (f"landed at {member['solved_at_step']:,} env steps" if member.get("solved_at_step") is not None
              else "not landed")
    print(f"agent {'AB'[member['agent']]} (seed {member['seed']}): {landed} · step {member['env_step']:,} · "
          f"best evaluation {member['best_eval'] or float('nan'):.0f}")

# %% [markdown]
# ## Experiment 3: a slower critic for B, from the start
#
# A new A/B run (five to seven minutes again): everything back to the preset, then B's **critic lr** (the
# *[learning rate](../docs/glossary.md#learning-rate)* of its *[critics](../docs/glossary.md#critic)*) at a
# third of A's. Settings made before Start reach the new run; both agents start from the same kind of random
# weights (seeds 0 and 1) and differ only in that one setting. Compare the *Critic loss* lines (the
# *[critic loss](../docs/glossary.md#critic-loss)*), then the two runs below.

# %%
from pathlib import Path

panel.reset_to_preset()
panel.set("critic_lr", config.training.critic_lr / 3, agent=B)
panel.start()
summary = panel.wait()
ab_runs = [Path(member["run_dir"]) for member in summary["members"]]
for member in summary["members"]:
    landed = (f"landed at {member['solved_at_step']:,} env steps" if member.get("solved_at_step") is not None
              else f"not landed (best evaluation {member['best_eval'] or float('nan'):.0f})")
    critic_lr = panel.population.hyperparameters(member["agent"])["training.critic_lr"]
    print(f"agent {'AB'[member['agent']]} (critic lr {critic_lr:.1e}): {landed}")
print("A/B run:", summary["state"], "·", summary["run_dir"])

# %%
from IPython.display import Markdown

from lab.analysis.compare import compare_runs

comparison = compare_runs(ab_runs, window=budget(50, 10))
Markdown(comparison.markdown())

# %% [markdown]
# ## Your turn
#
# * More agents: `TrainingPanel(config, agents=4)`, then give each its own **tau** (0.002, 0.005, 0.01,
#   0.05): the target networks follow faster and *Critic loss* gets jumpier as tau grows.
# * Set **policy delay** to 1 for one agent: its actor chases a critic that has not settled.
# * Two seeds differ even with equal settings: keep *All agents* selected and watch how far A and B
#   drift apart on their own before you read much into an A/B difference. One seed per side is a
#   demonstration, not a result: `05_sweeps` answers a question like "which critic lr lands soonest?"
#   over several seeds, with an *[IQM](../docs/glossary.md#iqm-interquartile-mean)* and a
#   *[confidence interval](../docs/glossary.md#confidence-interval)*.
# * Prioritized replay: `TrainingPanel(config)` (one agent) has the Replay tab; press **Export config
#   (YAML)** there to keep a setting, then `python -m lab train --config <the file>`.
