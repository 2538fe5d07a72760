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
# # Hyperparameter sweeps
#
# Which learning rates land the lander soonest? This notebook
#
# 1. runs a small **random sweep** (the same thing `python -m lab sweep` does),
# 2. runs a small **Optuna study** with TPE sampling and pruning (`python -m lab tune`),
# 3. compares the runs in interactive Plotly charts, and
# 4. picks the best agent and watches it land.
#
# Every run is an ordinary run folder, and every result is a JSON file, so nothing here is lost
# if the kernel dies: run the sweep cell again and finished runs are skipped.
#
# With `LAB_SMOKE=1` (the tests) every budget shrinks to a few hundred steps, so the numbers are
# noise; without it, each run trains for real (minutes per run).

# %%
import os
import tempfile
from pathlib import Path

SMOKE = os.environ.get("LAB_SMOKE") == "1"  # the test suite sets this: every budget shrinks to seconds
ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
RESULTS = Path(tempfile.mkdtemp(prefix="lab-smoke-")) if SMOKE else ROOT / "sweep_results"
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame draws off screen
print("results go to", RESULTS)

# %% [markdown]
# ## 1. A random sweep
#
# A search file names its parameters by config field, bare (`actor_lr`) or dotted (`training.tau`).
# A range `{min, max, type: log}` is sampled log-uniformly; `{choices: [...]}` picks one value.
# The same seed always draws the same configurations. Bad names or ranges are refused before
# anything runs. The same dictionary, written as YAML or JSON, is what `python -m lab sweep` reads
# (see `examples/sweeps/`).

# %%
from lab.search.space import parse_spec

budget = {"base": "tiny", "steps_per_run": 400, "num_samples": 3} if SMOKE else \
         {"base": "fast", "steps_per_run": 40_000, "num_samples": 6}
evaluation = {"run.eval_every": 100, "run.eval_episodes": 1, "env.max_episode_steps": 100,
              "training.learning_starts": 100} if SMOKE else {"run.eval_every": 5_000, "run.eval_episodes": 5}
sweep_spec = parse_spec({
    "name": "notebook_random", "type": "random", "seed": 0, **budget,
    "overrides": {**evaluation, "run.analyze_episodes": False},
    "parameters": {
        "actor_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
        "critic_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
        "tau": {"min": 0.002, "max": 0.02, "type": "log"},
    },
})
for plan in sweep_spec.plans():  # what --dry-run prints
    print(plan.label)

# %% [markdown]
# The planned runs are queued in an Optuna study (a SQLite file in the results folder); worker processes
# take runs from it, so `python -m lab sweep FILE --storage ...` in other terminals or on other machines
# could join in. Optuna's own dashboard, served from this kernel on loopback, shows the study live:
# run the next cell, then the sweep, and watch the trials arrive.

# %%
from lab.search.dashboard import show
from lab.search.sweep import results_folder, run_sweep

sweep_dir = results_folder(sweep_spec, root=RESULTS)  # the latest unfinished folder of this sweep, or a new one
sweep_dir.mkdir(parents=True, exist_ok=True)
show(f"sqlite:///{(sweep_dir / 'optuna.db').resolve()}", height=560)

# %%
results = run_sweep(sweep_spec, sweep_dir, workers=1 if SMOKE else 2)
print("ranked by time-to-solve, then final evaluation mean:")
for rank, r in enumerate(results, start=1):
    solved = f"solved in {r['time_to_solve_seconds']:.0f}s" if r["solved"] else "not solved"
    print(f"{rank}. run_{r['run']:03d}  final eval {r['final_eval_mean']:8.1f}  {solved:>18}  {r['params']}")

# %% [markdown]
# ## 2. The runs side by side
#
# **Parallel coordinates**: one line per run, one axis per parameter, coloured by the final
# evaluation. Drag along an axis to filter the lines.

# %%
import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

names = [p.name for p in sweep_spec.parameters]
finals = [r["final_eval_mean"] for r in results]
axes = [dict(label=n, values=[math.log10(r["params"][n]) for r in results],
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
        rows = [r for r in results if r["solved"] == solved]
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
# **Learning curves of the best and the worst run**: the evaluation mean (thick) and every
# training episode's return (faint).

# %%
best, worst = results[0], results[-1]
figure = go.Figure()
for r, colour in ((best, "seagreen"), (worst, "firebrick")):
    label = f"run_{r['run']:03d} ({'best' if r is best else 'worst'})"
    steps, returns = zip(*r["episode_returns"]) if r["episode_returns"] else ((), ())
    figure.add_trace(go.Scatter(x=steps, y=returns, mode="markers", opacity=0.3, marker=dict(color=colour, size=5),
                                name=f"{label} episodes"))
    figure.add_trace(go.Scatter(x=[e["env_step"] for e in r["evaluations"]],
                                y=[e["mean_return"] for e in r["evaluations"]], mode="lines+markers",
                                line=dict(color=colour, width=3), name=f"{label} evaluation"))
figure.add_hline(y=200, line_dash="dot", annotation_text="solved")
figure.update_layout(title="Best and worst run", xaxis_title="env step", yaxis_title="return", height=420).show()

# %% [markdown]
# ## 3. An Optuna study
#
# TPE learns from finished trials where the good values are, and the median pruner stops a trial
# whose evaluation trails the others' at the same step. The study lives in a SQLite file in the
# results folder; `python -m lab tune FILE --storage postgresql://...` shares one study between
# machines instead. Afterwards the best parameters are exported as `best.yaml`, a config that
# `python -m lab train --config best.yaml` accepts.

# %%
from lab.search.space import parse_spec
from lab.search.tune import TUNE_KEYS, check_tune_spec, run_tune

tune_spec = parse_spec({
    "name": "notebook_tpe", "seed": 0, "base": budget["base"], "steps_per_run": budget["steps_per_run"],
    "trials": 3 if SMOKE else 10, "startup_trials": 2 if SMOKE else 4, "pruner": "median",
    "overrides": {**evaluation, "run.analyze_episodes": False},
    "parameters": {"actor_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
                   "critic_lr": {"min": 1e-4, "max": 3e-3, "type": "log"},
                   "batch_size": {"choices": [64, 128, 256]} if not SMOKE else {"choices": [16, 32]}},
}, kind="tune", extra_keys=TUNE_KEYS)
check_tune_spec(tune_spec)
tuned = run_tune(tune_spec, folder=RESULTS / "tune_notebook_tpe")
print(tuned.get("best_params"))

# %%
show(f"sqlite:///{(RESULTS / 'tune_notebook_tpe' / 'optuna.db').resolve()}", height=560)  # history, importances, ...

# %% [markdown]
# ## 4. Pick the best and watch it land
#
# The best sweep run is the first in the ranking; its run folder holds `best_policy.pt`, the actor
# at its best evaluation. (With `LAB_SMOKE=1` it trained for seconds, so expect a crash.)

# %%
from lab import evaluate, load_policy

run_dir = Path(best["run_dir"])
policy_path = run_dir / "best_policy.pt" if (run_dir / "best_policy.pt").exists() else run_dir / "policy.pt"
pilot = load_policy(policy_path)
print(f"best run: run_{best['run']:03d} {best['params']} -> {policy_path}")
try:
    from lab.render.launcher import watch  # inline GIF without a display, a window with one
except ImportError:
    watch = None
if watch is not None:  # under LAB_SMOKE (the tests) always inline, even where a display exists
    watch(str(policy_path), episodes=1, window=False if SMOKE else None)
else:  # no renderer in this install: draw the flight path instead
    flight = evaluate(pilot, episodes=1, seed=10_000, keep_trajectories=True, analyze=False).trajectories[0]
    x, y = flight.observations[:, 0], flight.observations[:, 1]
    go.Figure([go.Scatter(x=x, y=y, mode="lines+markers", marker=dict(size=4, color=list(range(len(x))),
                                                                   colorscale="Viridis"), name="lander"),
               go.Scatter(x=[-0.2, 0.2], y=[0, 0], mode="lines", line=dict(color="gold", width=6), name="pad")]
              ).update_layout(title=f"Flight of the best agent: return {flight.rewards.sum():.0f}",
                              xaxis_title="x", yaxis_title="height", height=420).show()
