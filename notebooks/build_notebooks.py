"""Write the tutorial notebooks from the cells below, outputs stripped.

The notebooks are generated so they can be reviewed as code: edit this file, run
``python notebooks/build_notebooks.py``, commit both. Every notebook reads
``LAB_SMOKE=1`` (set by the tests) and then shrinks every budget so it runs top to
bottom in under a minute; without it, the notebooks train for real.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

SETUP = '''\
import os
import tempfile
from pathlib import Path

SMOKE = os.environ.get("LAB_SMOKE") == "1"  # the test suite sets this: every budget shrinks to seconds
ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
RUNS = Path(tempfile.mkdtemp(prefix="lab-smoke-")) if SMOKE else ROOT / "runs"
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame draws the HUD off screen'''

PILOT = '''\
from lab.policy import load_policy

pilot = load_policy()  # the pretrained TD3 agent, assets/pretrained_policy.pt'''


def quickstart() -> list:
    return [
        new_markdown_cell("""\
# Lander Lab quickstart

In this notebook you will

1. check that everything is installed,
2. watch the pretrained TD3 agent land, right here in the notebook,
3. train a short run of your own from a control panel, and
4. export a GIF of your agent.

Run the cells from top to bottom (Shift+Enter)."""),
        new_markdown_cell("## 1. Check the install"),
        new_code_cell(SETUP),
        new_code_cell('''\
import platform

import gymnasium
import ipywidgets
import plotly
import torch

import lab
import widgets

print(f"python {platform.python_version()} · torch {torch.__version__} · gymnasium {gymnasium.__version__} · "
      f"ipywidgets {ipywidgets.__version__} · plotly {plotly.__version__} · lander lab {lab.__version__}")
env = gymnasium.make("LunarLanderContinuous-v3")
obs, _ = env.reset(seed=0)
env.close()
print("LunarLanderContinuous-v3 works; an observation has", obs.shape[0], "numbers")'''),
        new_markdown_cell("""\
## 2. Watch the pretrained agent land

The viewer flies the agent on fixed seeds, then replays the episodes inline. Press ▶ to play,
drag the slider to scrub, pick another episode from the list. On the right, the behavior analyzer
says how the episode ended and what the lander did on the way."""),
        new_code_cell(PILOT),
        new_code_cell('''\
from widgets import EpisodeViewer

viewer = EpisodeViewer.from_policy(pilot, episodes=1 if SMOKE else 3)
viewer'''),
        new_markdown_cell("""\
## 3. Train a short run with the panel

The panel below trains TD3 in the background, so the notebook stays responsive.
Press **Start**, watch the charts move, and try dragging a slider while it trains:
the change takes effect at the next update and shows as a purple marker on the charts.

* *Live* settings (learning rates, tau, noise, PER alpha/beta, reward shaping) change the running trainer.
* Settings marked *applies on restart* (network, number of envs, seed, total steps) apply to the next run:
  press **Stop**, then **Start**.

A full run to a 200-point score takes an hour or more on a laptop CPU; this one is short."""),
        new_code_cell('''\
from lab.presets import preset
from widgets import TrainingPanel

config = preset("tiny" if SMOKE else "fast").with_overrides({
    "run.out_dir": str(RUNS),
    "run.total_steps": 600 if SMOKE else 30_000,
    "run.eval_every": 300 if SMOKE else 5_000,
})
panel = TrainingPanel(config, name="quickstart")
panel'''),
        new_markdown_cell("""\
The next cell presses Start for you (the button does the same) and waits for the run to end.
While it waits, the charts keep updating. Interrupting the kernel (■ in the toolbar) stops
training cleanly and writes a checkpoint."""),
        new_code_cell('''\
panel.start()
summary = panel.wait()
{key: summary[key] for key in ("env_step", "episodes", "best_eval", "state", "run_dir")}'''),
        new_markdown_cell("""\
## 4. Export a GIF

`panel.viewer()` opens the episodes of the run's last evaluation. **Export GIF** writes the
episode on screen to a file; **Open in window** flies it again in a pygame window (without a
display, it shows a GIF instead). From code, `lab.export_gif(policy, "landing.gif", seed=...)`
flies and records a fresh episode of any agent."""),
        new_code_cell('''\
run_viewer = panel.viewer()
run_viewer'''),
        new_code_cell('''\
from IPython.display import Image

gif = run_viewer.export_gif(RUNS / "quickstart.gif")
print("GIF:", gif, f"({gif.stat().st_size // 1024} KB)")
Image(filename=str(gif))'''),
        new_markdown_cell("""\
Next: `02_hyperparameter_playground` (what each knob does), `03_behavior_analysis` (why landings fail),
`04_td3_explained` (the algorithm, one idea at a time)."""),
    ]


def playground() -> list:
    return [
        new_markdown_cell("""\
# Hyperparameter playground

One panel, a few guided experiments. Each experiment says what to change and what to look for.
You can drag the sliders yourself while a run trains, or run the cells, which do the same through
`panel.set(name, value)`.

The panel's tabs:

| tab | what it holds | live? |
|---|---|---|
| Learning | actor and critic lr (log scale), tau, gamma, batch size, policy delay, updates/step | live |
| Exploration | noise type (restart), sigma, theta, noise scale | live |
| Replay | PER on/off (restart), alpha, beta | live |
| Shaping | reward shaping on/off and its bonuses | live |
| Network | hidden sizes, LayerNorm | applies on restart |
| Run | total steps, number of envs, seed | applies on restart |

Values the engine would refuse cannot be picked; if it refuses one anyway, the panel says why in red."""),
        new_code_cell(SETUP),
        new_code_cell('''\
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
panel'''),
        new_markdown_cell("""\
## Experiment 1: exploration noise and the outcome mix

TD3 explores by adding noise to its actions. Too little and it never finds the pad; too much and
it cannot hold a landing it has learned. Start a run, let it learn for a third of its budget, then
raise **sigma** (Exploration tab) from its preset value to 0.5.

Look at the *Outcomes* chart: with strong noise, the share of crashes and fly-offs grows, because
every action the agent takes is shaken. The *Noise scale* chart shows the multiplier on top of sigma."""),
        new_code_cell('''\
panel.start()
panel.wait(steps=BUDGET // 3)
before = panel.run_status.most_common_outcome
panel.set("sigma", 0.5)  # the same as dragging the sigma slider
panel.wait(steps=2 * BUDGET // 3)
print("most common outcome before:", before, "| after raising sigma:", panel.run_status.most_common_outcome)
print("the trainer now uses sigma =", panel.trainer.hyperparameters()["sigma"])'''),
        new_markdown_cell("""\
## Experiment 2: reward shaping, live

Reward shaping adds small bonuses (descending near the ground, legs down, staying upright) to the
learning signal. The raw return, which decides success, is untouched. Switch it on while the run
trains and compare the two lines of the *Shaped vs raw* chart: they part ways from that moment."""),
        new_code_cell('''\
panel.set("reward_shaping", True)
summary = panel.wait()
first_run = panel.trainer.run_dir
print("run 1:", summary["state"], "at step", summary["env_step"], "· best evaluation", summary["best_eval"])'''),
        new_markdown_cell("""\
## Experiment 3: prioritized replay off and on

Prioritized experience replay (PER) samples transitions with a large TD error more often, and
corrects the bias with importance weights (beta). Switching PER changes the replay buffer itself,
so it *applies on restart*: the next Start begins a new run with the same seed. Compare the two runs
below; with a longer budget, compare their evaluation points."""),
        new_code_cell('''\
panel.reset_to_preset()  # back to the starting config (sigma, shaping), so only PER differs
panel.set("use_per", not config.training.use_per)
panel.start()
summary = panel.wait()
second_run = panel.trainer.run_dir
print("run 2:", summary["state"], "at step", summary["env_step"], "· best evaluation", summary["best_eval"])'''),
        new_code_cell('''\
from IPython.display import Markdown

from lab.analysis.compare import compare_runs

comparison = compare_runs([first_run, second_run], window=10 if SMOKE else 50)
Markdown(comparison.markdown())'''),
        new_markdown_cell("""\
## Your turn

* Halve the **critic lr** mid-run: the *Critic loss* chart calms down, learning slows.
* Set **policy delay** to 1: the actor chases a critic that has not settled (often less stable).
* Raise **tau** to 0.05: the target networks follow faster; *Mean Q* gets jumpier.
* Press **Export config (YAML)** to keep a setting you like, then train it from a terminal:
  `python -m lab train --config <the file>`."""),
    ]


def behavior() -> list:
    return [
        new_markdown_cell("""\
# Behavior analysis: why episodes end the way they do

A return says *how well* an episode went; the behavior analyzer says *what happened*: the outcome
(`LANDED_SOFTLY`, `CRASHED_SPINNING`, `FLEW_OFF_LEFT`, ...) and behaviors on the way
(`RAPID_DESCENT`, `HORIZONTAL_OSCILLATION`, ...). This notebook looks at

1. how the outcome mix changes over a training run,
2. trajectories of landed against crashed episodes: altitude and speed over time, and the path, and
3. two agents compared on the same seeds."""),
        new_code_cell(SETUP),
        new_markdown_cell("""\
## 1. Outcomes over a run

`DiagnosticsTracker` subscribes to a trainer's events and counts outcomes per window of episodes at
O(1) per episode. (To read a finished run instead, use
`lab.analysis.run_data.load_run("runs/<folder>").tracker`.)"""),
        new_code_cell('''\
from lab.analysis import DiagnosticsTracker
from lab.presets import preset
from lab.trainer import Trainer

config = preset("tiny" if SMOKE else "fast").with_overrides({
    "run.out_dir": str(RUNS),
    "run.total_steps": 1_500 if SMOKE else 60_000,
    "run.eval_every": 0,
})
trainer = Trainer(config, name="behavior")
tracker = DiagnosticsTracker(window=5 if SMOKE else 25)
trainer.events.subscribe(tracker)
trainer.fit()
trainer.close()
print(tracker.episodes, "episodes; most common outcome in the last window:", tracker.most_common_outcome())'''),
        new_code_cell('''\
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
fig'''),
        new_markdown_cell("""\
## 2. Landed against crashed: trajectories

We fly the pretrained agent (mostly landings) and a random pilot (mostly crashes) on the same seeds,
keep every step, and plot altitude and speed against time, and the path in x-y. Units come from the
env's scaling, documented in `lab.analysis.thresholds`: x·10 m, y·6.67 m, vx·5 m/s, vy·7.5 m/s."""),
        new_code_cell(PILOT),
        new_code_cell('''\
import numpy as np

from lab.evaluation import evaluate
from lab.policy import random_policy

SEEDS = 2 if SMOKE else 6
flights = {
    "pretrained": evaluate(pilot, episodes=SEEDS, seed=20_000, keep_trajectories=True),
    "random": evaluate(random_policy(seed=1), episodes=SEEDS, seed=20_000, keep_trajectories=True),
}
episodes = [(name, traj, report) for name, result in flights.items()
            for traj, report in zip(result.trajectories, result.reports)]
for name, result in flights.items():
    print(f"{name:>10}: mean return {result.mean_return:7.1f} · outcomes {result.outcomes}")'''),
        new_code_cell('''\
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
fig'''),
        new_markdown_cell("""\
Landings slow down *before* the ground: speed falls to about 1 m/s over the last metres.
Crashes keep their speed (or gain it) all the way down, and their paths wander off the pad.

## 3. Two agents on the same seeds

Same seeds mean the same terrain and the same initial push, so differences come from the pilots.
Here: the pretrained agent against the agent trained in section 1 (swap in any `load_policy(path)`)."""),
        new_code_cell('''\
from lab.policy import load_policy

trained = load_policy(trainer.policy_path)
N = 3 if SMOKE else 20
agents = {"pretrained": pilot, "trained above": trained}
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
fig'''),
    ]


def td3_explained() -> list:
    return [
        new_markdown_cell("""\
# TD3, one part at a time

TD3 (Fujimoto et al., 2018) is DDPG with three fixes. This notebook takes the lab's own pieces
(`lab.noise`, `lab.sumtree`, `lab.td3`) and shows each idea on its own, in numbers you can plot:

1. exploration noise: Ornstein-Uhlenbeck against Gaussian,
2. prioritized replay: sampling from a SumTree,
3. clipped double-Q: why two critics and a minimum,
4. target policy smoothing: why noise on the *target* action.

Nothing here trains for long; every cell runs in seconds."""),
        new_code_cell(SETUP),
        new_code_cell('''\
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

rng = np.random.default_rng(0)
torch.manual_seed(0)'''),
        new_markdown_cell("""\
## 1. Exploration noise: OU against Gaussian

Gaussian noise is independent at each step. Ornstein-Uhlenbeck noise is *correlated in time*: it
drifts, and `theta` pulls it back to the mean. For a lander whose engines need a push held for
several steps to matter, correlated noise explores differently. Same `sigma`, very different paths:"""),
        new_code_cell('''\
from lab.config import NoiseConfig
from lab.noise import make_noise

STEPS = 400
fig = make_subplots(rows=1, cols=2, subplot_titles=("one action dimension over time", "autocorrelation"))
for kind, theta, color in (("gaussian", 0.0, "#0969da"), ("ou", 0.15, "#cf222e"), ("ou", 2.0, "#9a6700")):
    cfg = NoiseConfig(kind=kind, sigma=0.3, theta=theta, dt=0.05)
    noise = make_noise(cfg, num_envs=1, act_dim=1, rng=np.random.default_rng(1))
    series = np.array([noise.sample()[0, 0] for _ in range(STEPS)])
    label = kind if kind == "gaussian" else f"OU, theta={theta}"
    lags = np.arange(0, 60)
    centered = series - series.mean()
    acf = [1.0] + [float(np.corrcoef(centered[:-k], centered[k:])[0, 1]) for k in lags[1:]]
    fig.add_scatter(y=series, name=label, line={"color": color, "width": 1}, row=1, col=1)
    fig.add_scatter(x=lags, y=acf, name=label, line={"color": color}, showlegend=False, row=1, col=2)
fig.update_xaxes(title_text="step", row=1, col=1)
fig.update_xaxes(title_text="lag (steps)", row=1, col=2)
fig.update_layout(height=360, template="plotly_white")
fig'''),
        new_markdown_cell("""\
Gaussian autocorrelation drops to zero after one step; OU stays correlated for about `1 / (theta·dt)`
steps. (The `fast` preset uses Gaussian noise, `seed-doc` uses OU: try both in the playground.)

## 2. Prioritized replay: sampling from a SumTree

PER samples transition *i* with probability `p_i^alpha / sum_k p_k^alpha`. A SumTree stores the
priorities in its leaves and partial sums above them, so one sample is a walk from the root:
O(log n) instead of O(n). We put eight priorities in the tree, draw a hundred thousand samples, and
compare how often each leaf came up with its share of the total."""),
        new_code_cell('''\
from lab.sumtree import SumTree

priorities = np.array([1.0, 2.0, 4.0, 8.0, 0.5, 0.5, 3.0, 1.0])
fig = go.Figure()
for alpha in (1.0, 0.6, 0.0):
    tree = SumTree(len(priorities))
    tree.update(np.arange(len(priorities)), priorities ** alpha)
    draws = np.concatenate([tree.sample_stratified(256, rng) for _ in range(400)])
    observed = np.bincount(draws, minlength=len(priorities)) / len(draws)
    expected = priorities ** alpha / (priorities ** alpha).sum()
    fig.add_bar(x=np.arange(len(priorities)), y=observed, name=f"sampled, alpha={alpha}")
    fig.add_scatter(x=np.arange(len(priorities)), y=expected, mode="markers", marker={"symbol": "x", "size": 10},
                    name=f"p^alpha / sum, alpha={alpha}")
    print(f"alpha={alpha}: largest gap between sampled and expected share {np.abs(observed - expected).max():.4f}")
fig.update_layout(barmode="group", height=360, template="plotly_white", xaxis_title="leaf (transition)",
                  yaxis_title="share of samples", title="SumTree sampling matches p^alpha")
fig'''),
        new_markdown_cell("""\
`alpha = 0` is uniform replay; `alpha = 1` is fully proportional. Because frequent transitions are
over-represented, each sampled TD error is weighted by `(N·P(i))^-beta`; beta rises to 1 over training.

## 3. Clipped double-Q: why two critics and a minimum

A critic's estimate is noisy. The actor climbs the critic's gradient, so it seeks out the actions
where the critic happens to be *too high*, and the target `r + gamma·Q(s', a')` inherits that bias;
bootstrapping compounds it, step after step.

A toy with the exact answer: every action is worth 0. Each critic's estimate is the truth plus
independent noise. The actor picks the action that its critic rates highest. We bootstrap the target
for 30 steps with `gamma = 0.99`, once with a single critic, once with TD3's rule
`min(Q1, Q2)` (`lab.td3.td3_target`)."""),
        new_code_cell('''\
from lab.td3 import td3_target

ACTIONS, TRIALS, GAMMA, NOISE = 32, 2_000, 0.99, 1.0
single = torch.zeros(TRIALS)
clipped = torch.zeros(TRIALS)
history = {"single critic": [0.0], "clipped double-Q (TD3)": [0.0]}
for _ in range(30):
    # estimates of Q(s', a) for every action: the current value plus fresh noise, for two critics
    q1 = single[:, None] + NOISE * torch.randn(TRIALS, ACTIONS)
    greedy = q1.argmax(dim=1, keepdim=True)  # the actor follows critic 1
    single = GAMMA * q1.gather(1, greedy).squeeze(1)
    c1 = clipped[:, None] + NOISE * torch.randn(TRIALS, ACTIONS)
    c2 = clipped[:, None] + NOISE * torch.randn(TRIALS, ACTIONS)
    a = c1.argmax(dim=1, keepdim=True)
    clipped = td3_target(torch.zeros(TRIALS), torch.full((TRIALS,), GAMMA), c1.gather(1, a).squeeze(1),
                         c2.gather(1, a).squeeze(1))
    history["single critic"].append(single.mean().item())
    history["clipped double-Q (TD3)"].append(clipped.mean().item())
fig = go.Figure()
for name, values in history.items():
    fig.add_scatter(y=values, name=name)
fig.add_hline(y=0, line_dash="dash", annotation_text="true value")
fig.update_layout(height=360, template="plotly_white", xaxis_title="bootstrapping steps",
                  yaxis_title="mean estimated value",
                  title="Overestimation compounds; the minimum of two critics holds it")
print({name: round(values[-1], 2) for name, values in history.items()})
fig'''),
        new_markdown_cell("""\
The single critic's error grows with every bootstrap (it always takes the luckiest action). With two
critics, critic 2's noise is independent of the choice critic 1 made, and the minimum removes most of
the upward bias (it can even be slightly pessimistic, which is much safer for learning).

## 4. Target policy smoothing

A critic can grow a narrow, spurious peak in Q over actions. A deterministic target action that lands
on the peak learns from a value that does not exist. TD3 adds clipped noise to the target action
(`lab.td3.smoothed_target_action`), so the target is an *average* of Q around that action, and a
narrow peak cannot dominate it."""),
        new_code_cell('''\
from lab.td3 import smoothed_target_action

actions = torch.linspace(-1, 1, 401)


def q(a: torch.Tensor) -> torch.Tensor:
    """A smooth hill with a narrow spurious spike at a = 0.3."""
    return 1.0 - (a + 0.2) ** 2 + 2.0 * torch.exp(-((a - 0.3) / 0.02) ** 2)


def target_actor(next_obs: torch.Tensor) -> torch.Tensor:
    return torch.full((len(next_obs), 1), 0.3)  # the target policy sits right on the spike


fig = go.Figure()
fig.add_scatter(x=actions, y=q(actions), name="Q(s', a)", line={"color": "#57606a"})
for std in (0.0, 0.05, 0.2):
    a = smoothed_target_action(target_actor, torch.zeros(20_000, 8), noise_std=std, noise_clip=0.5)
    value = q(a).mean().item()
    print(f"target noise std {std:4}: target value {value:.3f}")
    fig.add_scatter(x=[0.3], y=[value], mode="markers", marker={"size": 12}, name=f"target with std {std}")
fig.update_layout(height=360, template="plotly_white", xaxis_title="action", yaxis_title="Q",
                  title="Smoothing averages the spike away (the lab uses std 0.2, clip 0.5)")
fig'''),
        new_markdown_cell("""\
Without smoothing, the target takes the spike at face value (about 2.75); with std 0.2, it is close to
the value of the smooth hill around it. The third fix, **delayed policy updates** (`policy_delay`,
2 by default), lets the critic settle for a few steps before the actor and the targets move;
try `policy delay = 1` in the playground and watch the actor loss."""),
    ]


NOTEBOOKS = {
    "01_quickstart.ipynb": quickstart,
    "02_hyperparameter_playground.ipynb": playground,
    "03_behavior_analysis.ipynb": behavior,
    "04_td3_explained.ipynb": td3_explained,
}


def build(out_dir: Path = HERE) -> list[Path]:
    paths = []
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells(), metadata={
            "kernelspec": KERNELSPEC,
            "language_info": {"name": "python"},
        })
        for i, cell in enumerate(nb.cells):  # stable ids keep diffs small
            cell["id"] = f"{name.split('_')[0]}-{i:02d}"
        nbformat.validate(nb)
        path = out_dir / name
        nbformat.write(nb, path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for path in build():
        print("wrote", path.relative_to(HERE.parent))
