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
# **What you will learn:** how TD3 (Fujimoto et al., 2018) learns to land. It is DDPG with three fixes, so
# we start from DDPG and its two losses, then target networks and tau, then each fix with a toy that shows
# the problem and the fix. Then the whole algorithm as pseudocode beside the lab's code, one real update
# walked through step by step on a real batch of lander transitions, and a map of what the critic learns
# about the lander's world as a run trains.
#
# **How long it runs:** about 3 minutes on 2 CPU cores: the toys take seconds, the delayed-update toy
# about half a minute, and section 7 trains an agent for 1 to 3 minutes (its progress bar gives the ETA).
# The task is explained in the [quickstart](01_quickstart.ipynb#1.-The-task); terms are in the
# [glossary](../docs/glossary.md).

# %%
from lab.notebook import progress_bar, setup

runs, budget = setup()

# %%
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

rng = np.random.default_rng(0)
torch.manual_seed(0)

# %% [markdown]
# ## 1. DDPG in a paragraph, and its two losses
#
# DDPG (Lillicrap et al., 2016) learns two networks. The *[actor](../docs/glossary.md#actor)* π(s) maps an
# observation to an action: it is the *[deterministic policy](../docs/glossary.md#deterministic-policy)*,
# and while training it explores with *[noise](../docs/glossary.md#exploration-noise)* added to its actions.
# The *[critic](../docs/glossary.md#critic)* Q(s, a) estimates the *[return](../docs/glossary.md#return)*
# (*[discounted](../docs/glossary.md#gamma-discount-factor)*) of taking action a in state s and following
# π afterwards. Every step goes into a *[replay buffer](../docs/glossary.md#replay-buffer)*; each
# *[update](../docs/glossary.md#update)* samples a *[batch](../docs/glossary.md#batch)* of transitions
# (s, a, r, s′, done) from it and takes one gradient step on each of two losses:
#
# * the **[critic loss](../docs/glossary.md#critic-loss)** pulls Q(s, a) towards the
#   *[Bellman target](../docs/glossary.md#bellman-target-td-target)*, the reward received plus the
#   discounted value of where the step led:
#
#   $$y = r + \gamma\,(1 - \text{done})\,Q'(s', \pi'(s'))$$
#
#   $$L(\theta) = \operatorname{mean}\,(Q_\theta(s, a) - y)^2$$
#
# * the **[actor loss](../docs/glossary.md#actor-loss)** pushes the actor's action up the critic's slope:
#
#   $$J(\phi) = -\operatorname{mean}\,Q_\theta(s, \pi_\phi(s))$$
#
#   Its gradient flows through the critic into the actor's weights: the critic tells the actor which way
#   is better, the actor moves that way.
#
# Q′ and π′ are the *target networks* of the next section. (The lab's `fast` preset uses a 3-step y: it
# sums 3 real rewards before it bootstraps, an *[n-step return](../docs/glossary.md#n-step-return)*.)
#
# ## 2. Target networks and tau
#
# The critic is trained towards y, and y is computed with a critic. If it were the same network, every
# update would move its own target, and learning would chase its tail. So DDPG computes y with
# *[target networks](../docs/glossary.md#target-network)*, copies of the actor and the critic that follow
# the trained ones slowly: after each update, by *Polyak averaging* with
# *[tau](../docs/glossary.md#tau-polyak-averaging)*,
#
# $$\theta' \leftarrow \theta' + \tau\,(\theta - \theta'), \qquad \tau = 0.005 \text{ in the lab.}$$
#
# A target is then an average over the last 1/τ = 200 or so versions of the network. The toy below gives a
# weight that the trained network moves by noisy steps (as updates on random batches do) and shows what
# the target sees for three values of tau: at τ = 1 (no target network) the target jumps with every
# update; at 0.005 it is smooth and a few hundred updates behind.

# %%
updates = np.arange(1_000)
online = np.cumsum(rng.normal(0.01, 0.15, size=len(updates)))  # a weight drifting upwards, noisily
fig = go.Figure()
fig.add_scatter(x=updates, y=online, name="the trained network's weight", line={"color": "#d0d7de"})
for tau, color in ((1.0, "#cf222e"), (0.05, "#9a6700"), (0.005, "#0969da")):
    target = np.zeros_like(online)
    for t in range(1, len(updates)):
        target[t] = target[t - 1] + tau * (online[t] - target[t - 1])  # the soft update, per weight
    fig.add_scatter(x=updates, y=target, name=f"target, tau = {tau}", line={"color": color, "width": 2})
fig.update_layout(height=340, template="plotly_white", xaxis_title="update", yaxis_title="weight",
                  title="A target network follows its network slowly: the smaller tau, the smoother and later")
fig

# %% [markdown]
# DDPG works, but it is fragile. TD3 names three reasons and fixes each.
#
# ## 3. Fix 1, twin critics (clipped double-Q): overestimation
#
# **The problem.** A critic's estimate is noisy. The actor climbs the critic's gradient, so it seeks out
# the actions where the critic happens to be *too high*, and the target `r + gamma·Q(s', a')` inherits that
# bias; bootstrapping compounds it, step after step (*[overestimation bias](../docs/glossary.md#overestimation-bias)*).
#
# A toy with the exact answer: every action is worth 0. Each critic's estimate is the truth plus
# independent noise. The actor picks the action that its critic rates highest. We bootstrap the target
# for 30 steps with `gamma = 0.99`, once with a single critic, once with TD3's rule
# `min(Q1, Q2)` (`lab.agents.td3.td3_target`).
#
# **The fix** (*[twin critics](../docs/glossary.md#twin-critics-clipped-double-q)*): train two critics and
# build every target from the smaller of their estimates at the target action.

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
# ## 4. Fix 2, target policy smoothing: a critic's narrow peaks
#
# **The problem.** A critic can grow a narrow, spurious peak in Q over actions. A deterministic target
# action that lands on the peak learns from a value that does not exist.
#
# **The fix** (*[target policy smoothing](../docs/glossary.md#target-policy-smoothing)*): TD3 adds clipped
# noise to the target action (`lab.agents.td3.smoothed_target_action`), so the target is an *average* of Q around
# that action, and a narrow peak cannot dominate it.

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
# the value of the smooth hill around it.
#
# ## 5. Fix 3, delayed policy updates: an actor that chases an unsettled critic
#
# **The problem.** The actor follows the critic's slope at its own action. Right after the actor moves, the
# critic has seen little data at the new action, so its slope there is still mostly error, and an actor
# that moves on every update follows that error.
#
# A toy: one state, one action in [-1, 1], and a true value -4·(a - 0.5)² (best at 0.5), observed with
# noise. The critic (a small network) learns from actions drawn around the actor's current one; the actor
# (one number) climbs the critic. Each update is one critic step; the actor steps on every update, or only
# every 2nd or 4th (**the fix**, *[policy delay](../docs/glossary.md#policy-delay-delayed-policy-updates)*;
# TD3 and the lab use 2; the target networks move with the actor). We measure how wrong the critic is at
# the actor's own action, which is the value the actor follows, over a few seeds.

# %%
def delayed_updates_toy(delay: int, seed: int, updates: int) -> tuple[np.ndarray, np.ndarray]:
    """The critic's error at the actor's action, and the actor's action, after each update."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    critic = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32),
                                 torch.nn.ReLU(), torch.nn.Linear(32, 1))
    critic_opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
    action = torch.tensor([[-0.8]], requires_grad=True)
    actor_opt = torch.optim.Adam([action], lr=0.02)

    def true_value(a: torch.Tensor) -> torch.Tensor:
        return -4 * (a - 0.5) ** 2

    errors, path = [], []
    for update in range(1, updates + 1):
        tried = (action.detach() + 0.3 * torch.randn(64, 1, generator=gen)).clamp(-1, 1)  # exploration
        observed = true_value(tried) + 0.5 * torch.randn(64, 1, generator=gen)
        critic_loss = (critic(tried) - observed).square().mean()
        critic_opt.zero_grad()
        critic_loss.backward()
        critic_opt.step()
        if update % delay == 0:  # the actor's step: up the critic's slope
            actor_loss = -critic(action).sum()
            actor_opt.zero_grad()
            actor_loss.backward()
            actor_opt.step()
            with torch.no_grad():
                action.clamp_(-1, 1)
        with torch.no_grad():
            errors.append(abs(float(critic(action) - true_value(action))))
            path.append(float(action))
    return np.array(errors), np.array(path)


UPDATES, SEEDS = budget(600, 60), budget(8, 2)
fig = make_subplots(rows=1, cols=2, subplot_titles=("critic's error at the actor's action",
                                                    "actor's action (best: 0.5)"))
for delay, color in ((1, "#cf222e"), (2, "#0969da"), (4, "#9a6700")):
    runs_toy = [delayed_updates_toy(delay, seed, UPDATES) for seed in range(SEEDS)]
    errors = np.mean([e for e, _ in runs_toy], axis=0)
    path = np.mean([p for _, p in runs_toy], axis=0)
    smooth = np.convolve(errors, np.ones(25) / 25, mode="valid") if len(errors) > 25 else errors
    fig.add_scatter(y=smooth, name=f"actor every {delay} update(s)", line={"color": color}, row=1, col=1)
    fig.add_scatter(y=path, name=f"delay {delay}", line={"color": color}, showlegend=False, row=1, col=2)
    last = len(errors) // 3
    print(f"policy delay {delay}: mean critic error at the actor's action over the last third "
          f"{errors[-last:].mean():.3f}; actor ends at {path[-1]:+.2f} (best +0.50)")
fig.update_xaxes(title_text="update", row=1, col=1)
fig.update_xaxes(title_text="update", row=1, col=2)
fig.update_layout(height=360, template="plotly_white")
fig

# %% [markdown]
# When we ran it (these 8 seeds, 600 updates), the critic's error at the actor's action over the last third
# was about 0.09 with an actor that steps on every update, 0.04 with a delay of 2 and 0.07 with a delay of
# 4: an actor that waits follows a critic that has caught up with it. A longer delay moves the actor less
# often and, in this toy, gains nothing more; TD3's 2 is the paper's choice too. The actor itself ends near
# the best action in all three, because a one-step toy forgives a wrong slope; in TD3 the critic's targets
# are built from the actor's next action, so errors the actor follows feed back into the targets, and that
# is where the paper saw them compound. Try `policy delay = 1` for one agent in the playground and watch
# its critic and actor losses.
#
# ## 6. The whole algorithm, and one real update step by step
#
# The pseudocode (after the paper's Algorithm 1) beside the lab's code. The update lives in the learner
# (`lab/td3.py`, `TD3.update`); the two pure functions it calls are `lab.agents.td3.smoothed_target_action` and
# `lab.agents.td3.td3_target`.
#
# ```text
# TD3, one update                                         the lab
# ---------------------------------------------------     --------------------------------------------------
# sample a batch (s, a, r, s', d) from the buffer         the learner samples its buffer (256 in `fast`)
# a' = clip(pi'(s') + clip(eps, -c, c), -1, 1)            smoothed_target_action(actor_target, s', 0.2, 0.5)
#      eps ~ N(0, sigma)
# y  = r + gamma (1 - d) min(Q1'(s', a'), Q2'(s', a'))    td3_target(rewards, discounts, next_q1, next_q2)
#                                                         (discount gamma^n with n-step returns, 0 if done)
# critic loss: sum over i of mean (Qi(s, a) - y)^2        the critic step: both critics in one batched pass
#   one optimizer step of both critics                    (TwinCritic answers (2, batch))
# every d-th update (d = policy_delay = 2):
#   actor loss: -mean Q1(s, pi(s)), one optimizer step    the actor step
#   theta' <- theta' + tau (theta - theta'), actor and    the soft update:
#   critics                                               torch._foreach_lerp_(targets, online, tau)
# ```
#
# Now one update for real, with the lab's own networks (`lab.agents.networks.Actor` and `TwinCritic`, at the
# `fast` preset's sizes) and a real batch: transitions of the lander, flown by Gymnasium's hand-written
# pilot with a little noise (as the `guided` preset's *[warm-up](../docs/glossary.md#warm-up)* fills the
# buffer), in a plain list that plays the replay buffer.

# %%
import copy

import gymnasium as gym

from lab import lander
from lab.agents.networks import Actor, TwinCritic
from lab.policy import heuristic_policy
from lab.presets import preset

fast = preset("fast")
env = gym.make(lander.ENV_ID)
pilot = heuristic_policy()
replay = []  # (s, a, r, s', terminated): the replay buffer, as a list
obs, _ = env.reset(seed=0)
for _ in range(budget(5_000, 600)):
    action = np.clip(pilot(obs) + rng.normal(0, 0.1, size=2), -1, 1).astype(np.float32)
    next_obs, reward, terminated, truncated, _ = env.step(action)
    replay.append((obs, action, float(reward), next_obs, terminated))
    obs = next_obs if not (terminated or truncated) else env.reset()[0]
env.close()
print(f"{len(replay):,} transitions in the buffer; "
      f"{sum(t[4] for t in replay)} episode ends (a landing's +100 or a crash's -100) among them")

# %%
torch.manual_seed(1)
net, train = fast.network, fast.training
actor, critic = Actor(lander.OBS_DIM, lander.ACT_DIM, net), TwinCritic(lander.OBS_DIM, lander.ACT_DIM, net)
actor_target, critic_target = copy.deepcopy(actor), copy.deepcopy(critic)  # targets start as exact copies
actor_opt = torch.optim.Adam(actor.parameters(), lr=train.actor_lr)
critic_opt = torch.optim.Adam(critic.parameters(), lr=train.critic_lr)

# step 1: sample a batch
picked = rng.choice(len(replay), size=train.batch_size, replace=False)
s, a, r, s2, done = (np.array(column) for column in zip(*(replay[i] for i in picked)))
s, a, s2 = (torch.as_tensor(x, dtype=torch.float32) for x in (s, a, s2))
r = torch.as_tensor(r, dtype=torch.float32)
discount = train.gamma * (1 - torch.as_tensor(done, dtype=torch.float32))  # 0 after a crash or a landing
torch.set_printoptions(precision=3, sci_mode=False)
print("step 1, the batch:")
print(f"  s        {tuple(s.shape)}   first row {s[0]}")
print(f"  a        {tuple(a.shape)}   first row {a[0]}")
print(f"  r        {tuple(r.shape)}     first rows {r[:4]}")
print(f"  s'       {tuple(s2.shape)}")
print(f"  discount {tuple(discount.shape)}     first rows {discount[:4]}  (gamma {train.gamma}, 0 where done)")

# %%
# step 2: the target action, smoothed: the target actor's action at s', plus clipped noise
with torch.no_grad():
    plain = actor_target(s2)
    a2 = smoothed_target_action(actor_target, s2, train.target_policy_noise, train.target_noise_clip)
print(f"step 2, a' = clip(pi'(s') + clip(N(0, {train.target_policy_noise}), "
      f"-{train.target_noise_clip}, {train.target_noise_clip}), -1, 1): shape {tuple(a2.shape)}")
print(f"  pi'(s') first rows {plain[:3].tolist()}")
print(f"  a'      first rows {a2[:3].tolist()}")

# step 3: the target, from the smaller of the two target critics
with torch.no_grad():
    next_q1, next_q2 = critic_target(s2, a2)  # TwinCritic answers (2, batch): both critics at once
    y = td3_target(r, discount, next_q1, next_q2)
print(f"step 3, y = r + discount * min(Q1'(s', a'), Q2'(s', a')): shape {tuple(y.shape)}")
print(f"  Q1' first rows {next_q1[:4]}")
print(f"  Q2' first rows {next_q2[:4]}")
print(f"  y   first rows {y[:4]}")

# %%
# step 4: the critic loss, and one step of the critics' optimizer
q_pair = critic(s, a)  # (2, batch)
critic_loss = (q_pair - y).square().mean(dim=1).sum()  # each critic's mean squared error, summed
critic_opt.zero_grad()
critic_loss.backward()
critic_opt.step()
with torch.no_grad():
    after = critic(s, a)
print(f"step 4, Q(s, a): shape {tuple(q_pair.shape)}; critic loss {critic_loss.item():.2f}")
print(f"  Q1(s, a) first rows before {q_pair[0, :4].detach()}  after one step {after[0, :4]}")
print(f"  loss after the step {(after - y).square().mean(dim=1).sum().item():.2f} (towards y {y[:4]})")

# step 5 (every policy_delay-th update): the actor loss, through critic 1, and one step of the actor
actor_loss = -critic.q1(s, actor(s)).mean()
actor_opt.zero_grad()
actor_loss.backward()  # the gradient flows through the critic into the actor; only the actor steps
actor_opt.step()
print(f"step 5, actor loss -mean Q1(s, pi(s)) {actor_loss.item():.3f}; "
      f"pi(s) first row now {actor(s[:1]).detach()[0]}")

# step 6: the targets follow by tau
with torch.no_grad():
    for target_net, online in ((actor_target, actor), (critic_target, critic)):
        for p_target, p in zip(target_net.parameters(), online.parameters()):
            p_target.lerp_(p, train.tau)  # p' += tau * (p - p')
    gap = max((p - pt).abs().max().item() for p, pt in zip(critic.parameters(), critic_target.parameters()))
print(f"step 6, targets += {train.tau} * (online - target): the largest gap left in the critics' weights "
      f"{gap:.2e}")

# %% [markdown]
# That is all of TD3: the learner repeats steps 1 to 4 once per env step (`training.updates_per_step`),
# steps 5 and 6 on every second update, while the actor, plus exploration noise, flies the lander and
# fills the buffer. Everything else in the lab (evaluation, checkpoints, the panel) is around this loop.
#
# ## 7. What the critic learns: a value map
#
# What does a critic think the lander's world is worth? Take a lander sinking at 1 m/s, upright and still,
# put it at every point of a grid over the screen, and ask the critic: Q(s, π(s)), with the actor's own
# action (`lab.analysis.value_map`, one forward pass for the whole grid). Draw it as a heatmap, at several
# points in a training run, and watch the critic learn where the pad is.
#
# The run saves its policy with its twin critic at every evaluation (every 5,000 env steps): a subscriber
# to the trainer's `Evaluated` events takes `trainer.policy` (a frozen copy of the actor and the critic)
# and writes it with `lab.checkpoint.save_policy` beside the run's own files. Any run's policy files with
# a critic work the same way, e.g. `load_policy("runs/<run>/best_policy.pt")`. The run is `guided` on seed
# 2, 25,000 env steps (1 to 3 minutes).

# %%
from lab import Trainer, load_policy
from lab.checkpoint import save_policy
from lab.events import Evaluated

config = preset(budget("guided", "tiny")).with_overrides({
    "run.out_dir": str(runs), "run.seed": 2,
    "run.total_steps": budget(25_000, 900), "run.eval_every": budget(5_000, 300),
})
trainer = Trainer(config, name="value-map")
snapshots: dict[int, tuple[str, float]] = {}  # env step -> (policy file, evaluation mean)


def keep_snapshot(event: Evaluated) -> None:
    path = trainer.run_dir / f"policy_{event.env_step}.pt"
    save_policy(trainer.policy, path)  # the actor and, where the policy has it, the twin critic
    snapshots[event.env_step] = (str(path), event.mean_return)


trainer.events.subscribe(keep_snapshot, Evaluated)
bar = progress_bar(trainer)
summary = trainer.fit()
trainer.close()
print("evaluations:", ", ".join(f"{step:,} steps: {mean:.0f}" for step, (_, mean) in snapshots.items()))
print(f"your agent landed at {summary['solved_at_step']:,} env steps" if summary["solved_at_step"] is not None
      else f"your agent did not land in {summary['env_step']:,} steps (best evaluation {summary['best_eval']:.0f})")

# %%
from lab.analysis.value_map import value_grid, value_map

grid = value_grid(columns=41, rows=31, vy_ms=-1.0)  # the whole screen; sinking at 1 m/s, upright, still
policies = {step: load_policy(path) for step, (path, _) in snapshots.items()}
maps = {step: value_map(policy, grid) for step, policy in policies.items() if policy.critic is not None}
if not maps:
    print("these policy files hold no critic, so there is no map to draw")
else:
    steps = [list(maps)[i] for i in np.linspace(0, len(maps) - 1, min(5, len(maps))).round().astype(int)]
    low, high = np.percentile(np.stack([maps[k] for k in steps]), [2, 98])
    fig = make_subplots(rows=1, cols=len(steps), shared_yaxes=True, horizontal_spacing=0.03,
                        subplot_titles=[f"{k:,} steps<br>evaluation {snapshots[k][1]:.0f}" for k in steps])
    for col, step in enumerate(steps, start=1):
        fig.add_heatmap(z=maps[step], x=grid.x_m, y=grid.altitude_m, zmin=low, zmax=high, colorscale="Viridis",
                        colorbar={"title": "Q"}, showscale=col == len(steps), row=1, col=col)
        bottom = float(grid.altitude_m[0])
        fig.add_scatter(x=[-2, 2], y=[bottom, bottom], mode="lines", line={"color": "#ffd33d", "width": 5},
                        name="the pad", showlegend=col == 1, row=1, col=col)
        fig.update_xaxes(title_text="x (m)", row=1, col=col)
    fig.update_yaxes(title_text="altitude (m)", row=1, col=1)
    fig.update_layout(height=430, margin={"t": 120}, template="plotly_white", legend={"orientation": "h", "y": -0.3},
                      title=f"Q(s, pi(s)) over the lander's position: {grid.describe()}")
    fig.show()

# %% [markdown]
# At the first evaluation, 5,000 steps in, the warm-up has just ended and no update has run: the critic
# still says about 0 everywhere. Then it learns the world's shape: the highest values gather low over the
# pad (the yellow line at the bottom; yellow on the map is high Q) and the lowest at the sides, most of all
# low and far from the pad, where a lander sinking at 1 m/s can no longer get back. When we ran it, the
# value just above the pad rose from about 0 to 70 by 25,000 steps while the bottom-left corner fell to
# about -60. Try another velocity or tilt (`value_grid(vx_ms=2.0)`, `value_grid(tilt_deg=30)`) and see
# where a lander moving fast or leaning is still worth something.
#
# ## 8. Two more ideas the lab offers: OU noise and prioritized replay
#
# Not part of TD3, and off in `fast`, but in the lab and often met in the literature.
#
# **Ornstein-Uhlenbeck noise.** Gaussian noise is independent at each step. OU noise is *correlated in
# time*: it drifts, and `theta` pulls it back to the mean. For a lander whose engines need a push held for
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
# steps. (The `fast` preset uses Gaussian noise, `seed-doc` uses OU.)
#
# **Prioritized replay (PER).** Instead of sampling the buffer uniformly, sample transition *i* with
# probability `p_i^alpha / sum_k p_k^alpha`, its priority being its last TD error
# (*[PER](../docs/glossary.md#prioritized-experience-replay-per)*). A SumTree stores the priorities in its
# leaves and partial sums above them, so one sample is a walk from the root: O(log n) instead of O(n). We
# put eight priorities in the tree, draw a hundred thousand samples, and compare how often each leaf came up
# with its share of the total.

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
# A single-agent panel (`TrainingPanel(config)`) has the Replay tab to try it.
