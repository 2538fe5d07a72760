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
# # TD3, one part at a time
#
# TD3 (Fujimoto et al., 2018) is DDPG with three fixes. This notebook takes the lab's own pieces
# (`lab.rollout.noise`, `lab.agents.sumtree`, `lab.agents.td3`) and shows each idea on its own, in numbers you can plot:
#
# 1. exploration noise: Ornstein-Uhlenbeck against Gaussian,
# 2. prioritized replay: sampling from a SumTree,
# 3. clipped double-Q: why two critics and a minimum,
# 4. target policy smoothing: why noise on the *target* action.
#
# Nothing here trains for long; every cell runs in seconds.

# %%
import os
import tempfile
from pathlib import Path

SMOKE = os.environ.get("LAB_SMOKE") == "1"  # the test suite sets this: every budget shrinks to seconds
ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
RUNS = Path(tempfile.mkdtemp(prefix="lab-smoke-")) if SMOKE else ROOT / "runs"
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame draws the HUD off screen

# %%
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

rng = np.random.default_rng(0)
torch.manual_seed(0)

# %% [markdown]
# ## 1. Exploration noise: OU against Gaussian
#
# Gaussian noise is independent at each step. Ornstein-Uhlenbeck noise is *correlated in time*: it
# drifts, and `theta` pulls it back to the mean. For a lander whose engines need a push held for
# several steps to matter, correlated noise explores differently. Same `sigma`, very different paths:

# %%
from lab.config import NoiseConfig
from lab.rollout.noise import make_noise

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
fig

# %% [markdown]
# Gaussian autocorrelation drops to zero after one step; OU stays correlated for about `1 / (theta·dt)`
# steps. (The `fast` preset uses Gaussian noise, `seed-doc` uses OU: try both in the playground.)
#
# ## 2. Prioritized replay: sampling from a SumTree
#
# PER samples transition *i* with probability `p_i^alpha / sum_k p_k^alpha`. A SumTree stores the
# priorities in its leaves and partial sums above them, so one sample is a walk from the root:
# O(log n) instead of O(n). We put eight priorities in the tree, draw a hundred thousand samples, and
# compare how often each leaf came up with its share of the total.

# %%
from lab.agents.sumtree import SumTree

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
fig

# %% [markdown]
# `alpha = 0` is uniform replay; `alpha = 1` is fully proportional. Because frequent transitions are
# over-represented, each sampled TD error is weighted by `(N·P(i))^-beta`; beta rises to 1 over training.
#
# ## 3. Clipped double-Q: why two critics and a minimum
#
# A critic's estimate is noisy. The actor climbs the critic's gradient, so it seeks out the actions
# where the critic happens to be *too high*, and the target `r + gamma·Q(s', a')` inherits that bias;
# bootstrapping compounds it, step after step.
#
# A toy with the exact answer: every action is worth 0. Each critic's estimate is the truth plus
# independent noise. The actor picks the action that its critic rates highest. We bootstrap the target
# for 30 steps with `gamma = 0.99`, once with a single critic, once with TD3's rule
# `min(Q1, Q2)` (`lab.agents.td3.td3_target`).

# %%
from lab.agents.td3 import td3_target

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
fig

# %% [markdown]
# The single critic's error grows with every bootstrap (it always takes the luckiest action). With two
# critics, critic 2's noise is independent of the choice critic 1 made, and the minimum removes most of
# the upward bias (it can even be slightly pessimistic, which is much safer for learning).
#
# ## 4. Target policy smoothing
#
# A critic can grow a narrow, spurious peak in Q over actions. A deterministic target action that lands
# on the peak learns from a value that does not exist. TD3 adds clipped noise to the target action
# (`lab.agents.td3.smoothed_target_action`), so the target is an *average* of Q around that action, and a
# narrow peak cannot dominate it.

# %%
from lab.agents.td3 import smoothed_target_action

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
fig

# %% [markdown]
# Without smoothing, the target takes the spike at face value (about 2.75); with std 0.2, it is close to
# the value of the smooth hill around it. The third fix, **delayed policy updates** (`policy_delay`,
# 2 by default), lets the critic settle for a few steps before the actor and the targets move;
# try `policy delay = 1` in the playground and watch the actor loss.
