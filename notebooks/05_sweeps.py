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
# # Hyperparameter sweeps: which learning rates land the lander soonest?
#
# **What you will learn:** how to answer a question about hyperparameters so that the answer holds: every
# configuration on several *[seeds](../docs/glossary.md#seed)*, trained together as one
# *[population](../docs/glossary.md#population)*, summarised by the
# *[IQM](../docs/glossary.md#iqm-interquartile-mean)* and its
# *[confidence interval](../docs/glossary.md#confidence-interval)*; then the tools for bigger searches
# (a random *[sweep](../docs/glossary.md#sweep)* in an Optuna study, its dashboard, and TPE with pruning),
# and how to pick the best agent and watch it land.
#
# **How long it runs:** about 15 minutes on 2 CPU cores: about 11 for section 1 (nine agents trained
# together; its progress bar gives the ETA) and 3 to 5 for the sweep and the study of sections 2 to 4. The
# task is explained in the [quickstart](01_quickstart.ipynb#1.-The-task); terms are in the
# [glossary](../docs/glossary.md).
#
# Every run is an ordinary *[run folder](../docs/glossary.md#run-folder)* and every sweep result a JSON
# file, so nothing here is lost if the kernel dies.

# %%
from lab.notebook import progress_bar, setup

runs, budget = setup()

# %% [markdown]
# ## 1. The question, on three seeds per configuration
#
# Three settings of both learning rates (actor and critic together): 3e-4, 1e-3 (the `fast` preset's) and
# 3e-3, each on the lab's *[report seeds](../docs/glossary.md#report-seeds)* 0, 1 and 2, from the `guided`
# preset (which lands all ten report seeds within 80,000 env steps at 1e-3). That is nine agents, trained
# at once as one `lab.Population`: one batched update for all, so both cores work. Each is
# *[evaluated](../docs/glossary.md#evaluation)* every 5,000 *[env steps](../docs/glossary.md#env-step)*
# and stops at its first evaluation that reaches 200 (it has *[landed](../docs/glossary.md#solved)*), which
# hands its share of the machine to the others; the cap is 60,000 env steps, and an agent that has not
# landed by then is counted at the cap (*[time to solve](../docs/glossary.md#time-to-solve-counted-at-the-cap)*).
#
# **This cell runs for about 11 minutes** on 2 CPU cores (up to 15 when few agents land early); the bar below it
# counts every agent's env steps and gives the ETA as if none landed early.

# %%
from lab import Population
from lab.events import Evaluated
from lab.lander import SUCCESS_RETURN
from lab.presets import preset

LEARNING_RATES = (3e-4, 1e-3, 3e-3)
SEEDS = (0, 1, 2)
CAP = budget(60_000, 600)
base = preset(budget("guided", "tiny")).with_overrides({
    "run.out_dir": str(runs), "run.total_steps": CAP, "run.eval_every": budget(5_000, 300),
    "run.eval_episodes": budget(10, 2), "run.checkpoint_every": 0,
})
configs = [base.with_overrides({"training.actor_lr": lr, "training.critic_lr": lr, "run.seed": seed})
           for lr in LEARNING_RATES for seed in SEEDS]
population = Population(configs=configs, name="learning-rates")
landed_at: dict[int, int] = {}  # agent -> env steps at its first evaluation of 200 or more


def stop_when_landed(tagged) -> None:
    event = getattr(tagged, "event", None)  # a population's events carry the agent they come from
    if isinstance(event, Evaluated) and event.mean_return >= SUCCESS_RETURN and tagged.agent not in landed_at:
        landed_at[tagged.agent] = event.env_step
        population.stop(agent=tagged.agent)  # it has answered; the others train on without it


population.events.subscribe(stop_when_landed)
bar = progress_bar(population)
population.fit()
population.close()
for k, config in enumerate(configs):
    what = f"landed at {landed_at[k]:,} env steps" if k in landed_at else f"not landed by {CAP:,}"
    print(f"lr {config.training.actor_lr:.0e}, seed {config.run.seed}: {what}")

# %% [markdown]
# Each configuration's three seeds, summarised the way the lab reports every result (`lab.stats`): the
# IQM of the env steps to land (unlanded seeds at the cap), and its 95 % bootstrap confidence interval.
# With three seeds the interval is wide, and that width is part of the answer: where two intervals
# overlap, these runs do not tell the two configurations apart.

# %%
import plotly.graph_objects as go

from lab.stats import counted_at_cap, spread

results = {}
for i, lr in enumerate(LEARNING_RATES):
    agents = range(i * len(SEEDS), (i + 1) * len(SEEDS))
    steps = counted_at_cap([landed_at.get(k) for k in agents], CAP)
    results[lr] = (steps, spread(steps), sum(k in landed_at for k in agents))
fig = go.Figure()
for lr, (steps, summary, landed) in results.items():
    label = f"lr {lr:.0e}"
    fig.add_scatter(x=[label] * len(steps), y=steps, mode="markers", marker={"size": 10, "opacity": 0.5},
                    name=f"{label}: each seed", showlegend=False)
    low, high = summary.ci_low, summary.ci_high
    fig.add_scatter(x=[label], y=[summary.iqm], mode="markers", marker={"size": 16, "symbol": "diamond"},
                    name=f"{label}: IQM", error_y=None if low is None else
                    {"type": "data", "symmetric": False, "array": [high - summary.iqm],
                     "arrayminus": [summary.iqm - low]})
    print(f"lr {lr:.0e}: landed {landed} of {len(steps)} seeds; env steps to land, IQM [95% CI] "
          f"{summary.text()} (median {summary.median:,.0f}; unlanded seeds counted at {CAP:,})")
fig.add_hline(y=CAP, line_dash="dot", annotation_text="cap: not landed")
fig.update_layout(height=380, template="plotly_white", yaxis_title="env steps to land (lower is sooner)",
                  title="Which learning rates land soonest? Three seeds each, IQM and 95% CI", showlegend=False)
fig.show()
ranked = sorted(results, key=lambda lr: results[lr][1].iqm)
best, runner_up = ranked[0], ranked[1]
b, r = results[best][1], results[runner_up][1]
if b.ci_high is not None and r.ci_low is not None and b.ci_high < r.ci_low:
    print(f"answer: lr {best:.0e} lands soonest, and its interval clears the next one's (lr {runner_up:.0e})")
else:
    print(f"answer: lr {best:.0e} has the lowest IQM, but its interval overlaps lr {runner_up:.0e}'s: "
          "three seeds do not separate them. More seeds (or a bigger difference) would.")

# %% [markdown]
# This is the protocol behind every table in the README: several seeds, the IQM and its interval, failures
# counted at the cap, and the report seeds kept apart from the *[tuning seeds](../docs/glossary.md#tuning-seeds)*
# on which settings are chosen. `python -m lab bench time-to-solve --population --seeds 0-9` runs the same
# measurement from a terminal.
#
# The sections below show the tools for searching many configurations. They train each configuration on
# **one seed** for a short budget, to show the machinery in minutes: their rankings are demonstrations,
# not answers, for the reason section 1 just showed.
#
# ## 2. A random sweep
#
# A search file names its parameters by config field, bare (`actor_lr`) or dotted (`training.tau`).
# A range `{min, max, type: log}` is sampled log-uniformly; `{choices: [...]}` picks one value.
# The same seed always draws the same configurations. Bad names or ranges are refused before
# anything runs. The same dictionary, written as YAML or JSON, is what `python -m lab sweep` reads
# (see `examples/sweeps/`).

# %%
from lab.search.space import parse_spec

RESULTS = runs / "sweeps"
plan = budget({"base": "guided", "steps_per_run": 10_000, "num_samples": 4},
              {"base": "tiny", "steps_per_run": 400, "num_samples": 3})
evaluation = budget({"run.eval_every": 5_000, "run.eval_episodes": 5},
                    {"run.eval_every": 100, "run.eval_episodes": 1, "env.max_episode_steps": 100,
                     "training.learning_starts": 100})
sweep_spec = parse_spec({
    "name": "notebook_random", "type": "random", "seed": 0, **plan,
    "overrides": {**evaluation, "run.analyze_episodes": False},
    "parameters": {
        "actor_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
        "critic_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
        "tau": {"min": 0.002, "max": 0.02, "type": "log"},
    },
})
for planned in sweep_spec.plans():  # what --dry-run prints
    print(planned.label)

# %% [markdown]
# The planned runs (four, of 10,000 env steps each: about 2 to 3 minutes) are queued in an Optuna study
# (a SQLite file in the results folder); worker processes take runs from it, so
# `python -m lab sweep FILE --storage ...` in other terminals or on other machines could join in.
# Optuna's own dashboard, served from this kernel on loopback, shows the study live:
# run the next cell, then the sweep, and watch the trials arrive.

# %%
from lab.search.dashboard import show
from lab.search.sweep import results_folder, run_sweep

sweep_dir = results_folder(sweep_spec, root=RESULTS)  # the latest unfinished folder of this sweep, or a new one
sweep_dir.mkdir(parents=True, exist_ok=True)
show(f"sqlite:///{(sweep_dir / 'optuna.db').resolve()}", height=560)

# %%
from lab.notebook import SearchProgress

# one worker in this kernel, so its log (and the bar: runs done, and an ETA) shows here;
# `python -m lab sweep FILE --workers 2` runs two at once from a terminal
sweep = run_sweep(sweep_spec, sweep_dir, workers=1, log=SearchProgress(sweep_spec.num_samples))
print("ranked by time-to-solve, then final evaluation mean (one seed each: a demonstration, not an answer):")
for rank, r in enumerate(sweep, start=1):
    solved = f"solved in {r['time_to_solve_seconds']:.0f}s" if r["solved"] else "not solved"
    print(f"{rank}. run_{r['run']:03d}  final eval {r['final_eval_mean']:8.1f}  {solved:>18}  {r['params']}")

# %% [markdown]
# ## 3. The runs side by side
#
# **Parallel coordinates**: one line per run, one axis per parameter, coloured by the final
# evaluation. Drag along an axis to filter the lines.

# %%
import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

names = [p.name for p in sweep_spec.parameters]
finals = [r["final_eval_mean"] for r in sweep]
axes = [dict(label=n, values=[math.log10(r["params"][n]) for r in sweep],
             tickvals=[math.log10(v) for v in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)],
             ticktext=["1e-4", "3e-4", "1e-3", "3e-3", "1e-2"]) for n in names]
axes.append(dict(label="final eval mean", values=finals))
go.Figure(go.Parcoords(line=dict(color=finals, colorscale="Viridis", showscale=True), dimensions=axes)).update_layout(
    title="Sweep runs (parameter axes are log10)", height=420).show()

# %% [markdown]
# **Each parameter against time-to-solve**: training seconds until the evaluation mean first
# reached 200. A run that never got there is drawn as a cross at its full training time.

# %%
figure = make_subplots(rows=1, cols=len(names), shared_yaxes=True, subplot_titles=names)
for col, name in enumerate(names, start=1):
    for solved in (True, False):
        rows = [r for r in sweep if r["solved"] == solved]
        figure.add_trace(go.Scatter(
            x=[r["params"][name] for r in rows],
            y=[r["time_to_solve_seconds"] if solved else r["train_seconds"] for r in rows],
            mode="markers", marker=dict(symbol="circle" if solved else "x", size=11,
                                        color="seagreen" if solved else "firebrick"),
            name="solved" if solved else "not solved (full training time)", showlegend=col == 1,
            text=[f"run_{r['run']:03d}" for r in rows]), row=1, col=col)
    figure.update_xaxes(type="log", row=1, col=col)
figure.update_yaxes(title_text="seconds", row=1, col=1)
figure.update_layout(title="Time-to-solve", height=380).show()

# %% [markdown]
# **Learning curves of the first and the last run of the ranking**: the evaluation mean (thick) and
# every training episode's return (faint).

# %%
first, last = sweep[0], sweep[-1]
figure = go.Figure()
for r, colour in ((first, "seagreen"), (last, "firebrick")):
    label = f"run_{r['run']:03d} ({'first' if r is first else 'last'})"
    steps, returns = zip(*r["episode_returns"]) if r["episode_returns"] else ((), ())
    figure.add_trace(go.Scatter(x=steps, y=returns, mode="markers", opacity=0.3, marker=dict(color=colour, size=5),
                                name=f"{label} episodes"))
    figure.add_trace(go.Scatter(x=[e["env_step"] for e in r["evaluations"]],
                                y=[e["mean_return"] for e in r["evaluations"]], mode="lines+markers",
                                line=dict(color=colour, width=3), name=f"{label} evaluation"))
figure.add_hline(y=200, line_dash="dot", annotation_text="solved")
figure.update_layout(title="First and last of the ranking", xaxis_title="env step", yaxis_title="return",
                     height=420).show()

# %% [markdown]
# ## 4. An Optuna study
#
# TPE learns from finished trials where the good values are, and the median pruner stops a trial
# whose evaluation trails the others' at the same step (one seed per trial here too: a search proposes,
# a multi-seed check like section 1's decides). The study lives in a SQLite file in the
# results folder; `python -m lab tune FILE --storage postgresql://...` shares one study between
# machines instead. Afterwards the best parameters are exported as `best.yaml`, a config that
# `python -m lab train --config best.yaml` accepts.

# %%
from lab.search.tune import TUNE_KEYS, check_tune_spec, run_tune

tune_spec = parse_spec({
    "name": "notebook_tpe", "seed": 0, "base": plan["base"], "steps_per_run": plan["steps_per_run"],
    "trials": budget(4, 3), "startup_trials": 2, "pruner": "median",
    "overrides": {**evaluation, "run.analyze_episodes": False},
    "parameters": {"actor_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
                   "critic_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
                   "batch_size": budget({"choices": [64, 128, 256]}, {"choices": [16, 32]})},
}, kind="tune", extra_keys=TUNE_KEYS)
check_tune_spec(tune_spec)
tuned = run_tune(tune_spec, folder=RESULTS / "tune_notebook_tpe",
                 log=SearchProgress(tune_spec.extra["trials"], "trial"))  # about 2 minutes
print(tuned.get("best_params"))

# %%
show(f"sqlite:///{(RESULTS / 'tune_notebook_tpe' / 'optuna.db').resolve()}", height=560)  # history, importances, ...

# %% [markdown]
# ## 5. Pick the best and watch it land
#
# The agent that landed soonest in section 1's best configuration (by IQM) keeps `best_policy.pt`, the
# actor at its best evaluation, in its run folder inside the population's. `watch` opens it in a pygame
# window where the machine has a display (V there toggles the value overlay), and shows the flight inline
# as a GIF where it has none.

# %%
from pathlib import Path

from lab.render.launcher import watch

best_lr = ranked[0]
candidates = [k for k, c in enumerate(configs) if c.training.actor_lr == best_lr]
pick = min(candidates, key=lambda k: landed_at.get(k, CAP + 1))
agent_dir = Path(population.run_dir) / f"agent{pick}_seed{configs[pick].run.seed}"
policy_path = agent_dir / "best_policy.pt" if (agent_dir / "best_policy.pt").exists() else agent_dir / "policy.pt"
print(f"lr {best_lr:.0e}, seed {configs[pick].run.seed}: {policy_path}")
watch(str(policy_path), episodes=1, window=budget(None, False))  # the tests' smoke runs: always inline
