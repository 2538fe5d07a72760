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
# # Behavior analysis: why episodes end the way they do
#
# **What you will learn:** to read an episode as more than its return. The behavior analyzer names each
# episode's *[outcome](../docs/glossary.md#outcome)* (`LANDED_SOFTLY`, `CRASHED_SPINNING`, `FLEW_OFF_LEFT`,
# `TIMED_OUT_HOVERING`, ...) and the behaviors on the way (`RAPID_DESCENT`, `HORIZONTAL_OSCILLATION`, ...).
# This notebook looks at
#
# 1. how the outcome mix changes over a training run (you train one),
# 2. trajectories of landed against crashed episodes: altitude and speed over time, and the path, and
# 3. two agents compared on the same seeds: the pretrained agent and yours.
#
# **How long it runs:** about 3 minutes on 2 CPU cores, 1 to 2 of them training in section 1 (its
# progress bar gives the ETA). The task is explained in the [quickstart](01_quickstart.ipynb#1.-The-task);
# terms are in the [glossary](../docs/glossary.md).

# %%
from lab.notebook import progress_bar, setup

runs, budget = setup()

# %% [markdown]
# ## 1. Outcomes over a run
#
# We train the `guided` *[preset](../docs/glossary.md#preset)*, the one that lands (all ten of the lab's
# *[report seeds](../docs/glossary.md#report-seeds)* within 80,000 *[env steps](../docs/glossary.md#env-step)*;
# seed 2 at about 15,000), for 40,000 env steps, and keep training after it lands so the mix has time to
# settle. `DiagnosticsTracker` subscribes to the trainer's events and counts outcomes per window of 25
# training episodes at O(1) per episode. (To read a finished run instead, use
# `lab.analysis.run_data.load_run("runs/<folder>").tracker`.)
#
# What to expect: the first 5,000 steps are the *[warm-up](../docs/glossary.md#warm-up)*, flown by
# Gymnasium's hand-written pilot, so the first window is mostly landings; then your agent takes over
# and crashes, flies off or hovers while it learns, and the landings come back. The training episodes fly
# with *[exploration noise](../docs/glossary.md#exploration-noise)*, so their mix trails the
# *[evaluations](../docs/glossary.md#evaluation)*, which fly the policy without it.

# %%
from lab import Trainer
from lab.analysis import DiagnosticsTracker
from lab.presets import preset

config = preset(budget("guided", "tiny")).with_overrides({
    "run.out_dir": str(runs),
    "run.total_steps": budget(40_000, 1_500),
    "run.eval_every": budget(5_000, 500),
    "run.seed": 2,
})
trainer = Trainer(config, name="behavior")
tracker = DiagnosticsTracker(window=budget(25, 5))
trainer.events.subscribe(tracker)
bar = progress_bar(trainer)  # env steps, an ETA, the recent return and the most common outcome
summary = trainer.fit()
trainer.close()
landed = (f"your agent landed at {summary['solved_at_step']:,} env steps" if summary["solved_at_step"] is not None
          else f"your agent did not land (best evaluation {summary['best_eval']:.0f})")
print(f"{landed}; {tracker.episodes} training episodes; most common outcome in the last window: "
      f"{tracker.most_common_outcome()}")

# %%
import plotly.graph_objects as go

from widgets.charts import OUTCOME_COLORS

stats = tracker.behavior_statistics()
steps = [w["env_step"] for w in stats["windows"]]
fig = go.Figure()
for outcome in stats["outcome_totals"]:
    shares = [100 * w["outcomes"].get(outcome, 0.0) for w in stats["windows"]]
    fig.add_scatter(x=steps, y=shares, name=outcome, stackgroup="one", line={"width": 0.5},
                    fillcolor=OUTCOME_COLORS.get(outcome), marker={"color": OUTCOME_COLORS.get(outcome)})
fig.update_layout(title="Outcome mix per window of episodes", xaxis_title="env step",
                  yaxis_title="% of episodes", height=380, template="plotly_white")
fig

# %% [markdown]
# ## 2. Landed against crashed: trajectories
#
# We fly the pretrained agent (mostly landings) and a random pilot (mostly crashes) on the same seeds,
# keep every step, and plot altitude and speed against time, and the path in x-y. Units come from the
# env's scaling, documented in `lab.lander.thresholds`: x·10 m, y·6.67 m, vx·5 m/s, vy·7.5 m/s.

# %%
from lab.policy import load_policy

pilot = load_policy()  # the pretrained TD3 agent, assets/pretrained_policy.pt

# %%
import numpy as np

from lab.evaluation import evaluate
from lab.policy import random_policy

SEEDS = budget(6, 2)
flights = {
    "pretrained": evaluate(pilot, episodes=SEEDS, seed=20_000, keep_trajectories=True),
    "random": evaluate(random_policy(seed=1), episodes=SEEDS, seed=20_000, keep_trajectories=True),
}
episodes = [(name, traj, report) for name, result in flights.items()
            for traj, report in zip(result.trajectories, result.reports)]
for name, result in flights.items():
    print(f"{name:>10}: mean return {result.mean_return:7.1f} · outcomes {result.outcomes}")

# %%
from plotly.subplots import make_subplots

DT = 1 / 50  # seconds per env step
fig = make_subplots(rows=1, cols=3, subplot_titles=("altitude above the pad (m)", "speed (m/s)", "path (m)"))
for name, traj, report in episodes:
    obs = traj.observations[1:]  # the states after each step
    t = np.arange(1, len(obs) + 1) * DT
    x, y = obs[:, 0] * 10, obs[:, 1] * 20 / 3
    speed = np.hypot(obs[:, 2] * 5, obs[:, 3] * 7.5)
    landed = report.outcome.landed
    style = {"color": "#1a7f37" if landed else "#cf222e", "width": 1.5 if landed else 1}
    label = f"{name}: {report.outcome.value}"
    fig.add_scatter(x=t, y=y, line=style, name=label, legendgroup=label, row=1, col=1)
    fig.add_scatter(x=t, y=speed, line=style, name=label, legendgroup=label, showlegend=False, row=1, col=2)
    fig.add_scatter(x=x, y=y, line=style, name=label, legendgroup=label, showlegend=False, row=1, col=3)
fig.add_vrect(x0=-2, x1=2, fillcolor="#d0d7de", opacity=0.4, line_width=0, row=1, col=3)  # the pad
fig.update_xaxes(title_text="s", row=1, col=1)
fig.update_xaxes(title_text="s", row=1, col=2)
fig.update_xaxes(title_text="m right of the pad", row=1, col=3)
fig.update_layout(height=380, template="plotly_white", title="green: landed · red: crashed or flew off")
fig

# %% [markdown]
# Landings slow down *before* the ground: speed falls to about 1 m/s over the last metres.
# Crashes keep their speed (or gain it) all the way down, and their paths wander off the pad.
#
# ## 3. Two agents on the same seeds
#
# Same *[seeds](../docs/glossary.md#seed)* mean the same terrain and the same initial push, so differences
# come from the pilots. Here: the pretrained agent against yours from section 1, as it was at its best
# evaluation (`best_policy.pt` in its *[run folder](../docs/glossary.md#run-folder)*; swap in any
# `load_policy(path)`). If yours landed, the two should score alike and differ in style: fuel, touchdown
# speed. If it did not, look at how it fails: a *[hovering](../docs/glossary.md#hovering)* agent times
# out with little touchdown speed and a big fuel bill, which is the most common way a TD3 run fails here.

# %%
from lab.policy import load_policy

trained = load_policy(trainer.run_dir / "best_policy.pt")
N = budget(20, 3)
agents = {"pretrained": pilot, "yours (best)": trained}
results = {name: evaluate(policy, episodes=N, seed=30_000) for name, policy in agents.items()}

fig = make_subplots(rows=1, cols=2, subplot_titles=("return per seed", "outcome mix"))
for name, result in results.items():
    fig.add_scatter(x=result.seeds, y=result.returns, mode="markers+lines", name=name, row=1, col=1)
    fig.add_bar(x=list(result.outcomes), y=list(result.outcomes.values()), name=name, showlegend=False, row=1, col=2)
fig.add_hline(y=200, line_dash="dash", line_color="#2da44e", row=1, col=1)
fig.update_layout(height=380, template="plotly_white", barmode="group")
for name, result in results.items():
    touchdowns = [r.touchdown_speed for r in result.reports if r.touchdown_speed is not None]
    fuel = np.mean([r.fuel_used for r in result.reports])
    speed = f"{np.mean(touchdowns):.2f} m/s" if touchdowns else "no touchdowns"
    print(f"{name:>14}: mean {result.mean_return:7.1f} · success {100 * result.success_rate:3.0f}% · "
          f"touchdown speed {speed} · fuel {fuel:.1f}")
fig
