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
# # Lander Lab quickstart
#
# **What you will learn:** what the lunar-lander task is (what the agent sees, what it controls, what
# earns and costs reward, what "solved" means); how a trained agent flies and what it values; and how
# to train a TD3 agent of your own until it lands, export a GIF of it, and see how it learned.
#
# **How long it runs:** about 2 minutes on 2 CPU cores, 1 to 2 of them training (up to three times
# that on a slower machine). Run the cells from top to bottom (Shift+Enter).
#
# Words in *italics* with a link are explained in the [glossary](../docs/glossary.md).

# %%
from lab.notebook import setup

runs, budget = setup()  # where runs go, how long they train, and whether pygame can open a window

# %% [markdown]
# ## 1. The task
#
# Gymnasium's `LunarLanderContinuous-v3`: a lander starts at the top of the screen with a random push
# and must come to rest on the pad between the two flags. Here is one moment of a flight, drawn by the
# env itself, with what the agent sees and controls written on it.

# %%
import plotly.graph_objects as go

from lab import lander
from lab.policy import heuristic_policy
from lab.render.episode import Flight
from lab.render.hud import Telemetry

flight = Flight(seed=7)
hand_written = heuristic_policy()  # Gymnasium's hand-written pilot, to fly a few steps for the picture
for _ in range(70):
    flight.step(hand_written(flight.obs))
frame, obs, action = flight.frame(), flight.obs, flight.last_action
world = flight.env.unwrapped


def pixels(x_m: float, y_m: float) -> tuple[float, float]:
    """World metres to the frame's pixels (y grows downwards in an image)."""
    return x_m * lander.SCALE, lander.VIEWPORT_H - y_m * lander.SCALE


body_x, body_y = pixels(*world.lander.position)
leg_x, leg_y = pixels(*world.legs[1].position)
pad_x, pad_y = pixels((world.helipad_x1 + world.helipad_x2) / 2, world.helipad_y)
notes = [
    (body_x, body_y - 12, 60, -60, "the lander: x, y, vx, vy, tilt, spin<br>(6 of its 8 observation numbers)"),
    (leg_x - 8, leg_y + 6, -90, 10, "2 legs: 1 while touching ground<br>(the last 2 numbers)"),
    (body_x, body_y + 22, -120, 70, "main engine: action[0] > 0<br>fires it at 50-100 %"),
    (body_x + 16, body_y, 150, 30, "side engines: |action[1]| > 0.5<br>(+ pushes right)"),
    (pad_x, pad_y, 110, -25, "the pad: observation x = 0, y = 0<br>at rest here: +100"),
    (60, pad_y + 40, 30, 50, "the body touches ground: crash, -100"),
]
fig = go.Figure(go.Image(z=frame))
for x, y, ax, ay, text in notes:
    fig.add_annotation(x=x, y=y, ax=ax, ay=ay, text=text, showarrow=True, arrowhead=2, arrowcolor="#ffd33d",
                       font={"color": "white", "size": 12}, bgcolor="rgba(20,20,40,0.75)", align="left")
fig.update_layout(width=760, height=540, margin={"l": 0, "r": 0, "t": 30, "b": 0},
                  title="LunarLanderContinuous-v3: what the agent sees and controls")
fig.update_xaxes(visible=False)
fig.update_yaxes(visible=False)
fig

# %%
t = Telemetry.from_obs(obs)
rows = [("x", obs[0], f"{t.x_m:+.2f} m right of the pad's centre"),
        ("y", obs[1], f"{t.altitude_m:+.2f} m above the pad"),
        ("vx", obs[2], f"{t.vx_ms:+.2f} m/s (+ is right)"), ("vy", obs[3], f"{t.vy_ms:+.2f} m/s (+ is up)"),
        ("tilt", obs[4], f"{t.tilt_deg:+.1f}° (+ leans left)"), ("spin", obs[5], f"{t.spin_dps:+.1f}°/s"),
        ("right leg", obs[6], "touching" if t.right_leg else "in the air"),
        ("left leg", obs[7], "touching" if t.left_leg else "in the air")]
print("the observation at this moment (8 numbers):")
for name, value, meaning in rows:
    print(f"  {name:>9} {value:+.3f}   {meaning}")
print(f"the action that led here (2 numbers): main {action[0]:+.2f}, side {action[1]:+.2f}")

# %% [markdown]
# **What the agent sees**, the *[observation](../docs/glossary.md#observation)*: the 8 numbers above,
# 50 times a second. **What it controls**, the *[action](../docs/glossary.md#action)*: 2 numbers in
# [-1, 1], the main engine (off at 0 or below, 50 to 100 % power above) and the side engines (off between
# -0.5 and 0.5).
#
# **What earns and costs reward** (the env pays a *[reward](../docs/glossary.md#reward)* after every step):
#
# | what | reward |
# |---|---|
# | moving nearer the pad, slower, more upright | + (and as much - for moving away again) |
# | each leg touching down | +10 |
# | each step of the main engine at full power | -0.3 (fuel) |
# | each step of a side engine at full power | -0.03 |
# | coming to rest (the env puts the lander to sleep) | **+100**, and the episode ends |
# | the body touching the ground, or flying off the screen | **-100**, and the episode ends |
#
# **When an *[episode](../docs/glossary.md#episode) ends:*** at rest, crashed, off the screen, or after
# 1,000 steps (20 s), usually a lander *[hovering](../docs/glossary.md#hovering)* above the ground.
#
# **What "solved" means:** an episode's *[return](../docs/glossary.md#return)* (its rewards summed) of
# 200 is what Gymnasium calls solved; a good landing scores 200 to 300. In the lab a training run is
# *[solved](../docs/glossary.md#solved)*, or has *landed*, at the first *[evaluation](../docs/glossary.md#evaluation)*
# whose mean return over 10 fixed episodes reaches 200, flown without exploration noise.
#
# This section is the one place the notebooks explain the task; the others link back here.

# %% [markdown]
# ## 2. Watch a trained agent land, and see what it values
#
# The viewer flies the pretrained TD3 agent on fixed seeds, then replays the episodes inline. Press ▶ to
# play, drag the slider to scrub, pick another episode from the list. On the right, the behavior analyzer
# says how the episode ended and what the lander did on the way.
#
# The purple *what it values* lines on the picture and the chart under it show what the agent makes of
# each moment: its *[critic](../docs/glossary.md#critic)*'s estimate *[Q(s, a)](../docs/glossary.md#q-value-q-function)*
# of the state on screen and the action it took there, and its *[actor](../docs/glossary.md#actor)*'s two
# engine commands. The chart traces Q over the whole episode beside the discounted return that really
# followed (the dotted line, what Q tries to predict). The pretrained agent and your own agent in
# section 4 carry their critic; a policy file saved without one shows "no critic in this file" instead.
#
# **Open in window** flies the episode again in a pygame window on your desktop (without a display, as on
# a server, it shows a GIF instead); V toggles the value overlay there, H the HUD.

# %%
from lab.policy import load_policy
from widgets import EpisodeViewer

pilot = load_policy()  # the pretrained TD3 agent, assets/pretrained_policy.pt
viewer = EpisodeViewer.from_policy(pilot, episodes=budget(3, 1))
viewer

# %% [markdown]
# ## 3. Train your own lander with the panel
#
# The panel below trains TD3 in the background, so the notebook stays responsive. Its status line counts
# *[env steps](../docs/glossary.md#env-step)* against the budget with an ETA. Press **Start**, watch the
# charts move, and try dragging a slider while it trains: the change takes effect at the next
# *[update](../docs/glossary.md#update)* and shows as a purple marker on the charts.
#
# * *Live* settings (learning rates, tau, noise, reward shaping) change the running trainer.
# * Settings marked *applies on restart* (network, number of envs, seed, total steps) apply to the next run:
#   press **Stop**, then **Start**.
#
# This run uses the `guided` *[preset](../docs/glossary.md#preset)* on *[seed](../docs/glossary.md#seed)* 2.
# TD3 learns from a *[replay buffer](../docs/glossary.md#replay-buffer)*, a memory of past steps. `guided`
# is `fast` with a head start: for its first 5,000 env steps (about twenty-five episodes, the
# *[warm-up](../docs/glossary.md#warm-up)*), Gymnasium's hand-written pilot flies the lander with a little
# noise on its engines, so the replay buffer already holds landings, and the +100 a landing pays, when
# learning begins (*[learning from demonstrations](../docs/glossary.md#learning-from-demonstrations)*). From
# the first update on, your agent flies every episode itself: it never copies the pilot, it only learns from
# those transitions what landing is worth. So the first episodes on the charts score like the pilot (about
# 280), and the returns drop when your agent takes over and climb back as it learns. Without the head start
# (the `fast` preset, or *warm-up pilot* set to uniform in the Exploration tab) TD3 learns the same task
# from random actions, but more slowly and not on every seed.
#
# Every 5,000 steps the run evaluates its *[deterministic policy](../docs/glossary.md#deterministic-policy)*
# (the actor without its exploration noise) on 10 fixed episodes and ends at the first evaluation whose mean
# reaches 200 (`run.stop_when_solved`): your agent lands, and the policy that landed is the one it keeps.
# On the README's machine seed 2 lands at 15,000 env steps, after about 40 seconds of training; another kind
# of CPU rounds differently and trains another run. `guided` lands all ten of the lab's
# *[report seeds](../docs/glossary.md#report-seeds)* within 80,000 steps (median 35,000), so this budget of
# 100,000 leaves room. Pick another seed in the Run tab to see the spread.
#
# At each evaluation the run also keeps a short clip of its policy (`RUN/clips/`), so section 5 can show
# how your agent learned.

# %%
from lab import Trainer
from lab.presets import preset
from lab.render.clips import attach_clip_recorders
from widgets import TrainingPanel

config = preset(budget("guided", "tiny")).with_overrides({
    "run.out_dir": str(runs),
    "run.total_steps": budget(100_000, 600),  # env steps: 10 of 10 report seeds land within 80,000
    "run.eval_every": budget(5_000, 300),
    "run.stop_when_solved": True,
    "run.seed": 2,  # lands at 15,000 steps on the README's machine; the Run tab picks others
})
trainer = Trainer(config, name="quickstart")
attach_clip_recorders(trainer)  # one GIF per evaluation, as `python -m lab train` keeps by default
panel = TrainingPanel(trainer)
panel

# %% [markdown]
# The next cell presses Start for you (the button does the same) and waits for the run to end. While it
# waits, the charts and the panel's status line (env steps, steps per second and the ETA) keep updating.
# Interrupting the kernel (■ in the toolbar) stops training cleanly and writes a checkpoint.

# %%
panel.start()
summary = panel.wait()
if summary["solved_at_step"] is not None:
    print(f"your agent landed: evaluation mean {summary['last_eval']:.0f} after {summary['solved_at_step']:,} "
          f"env steps, {summary['solved_at_seconds'] / 60:.1f} minutes of training")
else:
    best = summary["best_eval"]
    print(f"not landed yet after {summary['env_step']:,} steps (best evaluation {best:.0f}): "
          "raise total steps (Run tab), then press Start to train on")
{key: summary[key] for key in ("env_step", "episodes", "best_eval", "state", "run_dir")}

# %% [markdown]
# ## 4. Your agent's landings, what it values, and a GIF
#
# `panel.viewer()` opens the episodes of the run's last evaluation, flown by your agent, with its critic:
# watch the purple Q line as it comes down. On a landing it rises towards the +100 of coming to rest; on
# a crash it drops in the steps before the ground, which is the critic seeing the crash coming.
# **Export GIF** writes the episode on screen to a file; **Open in window** flies it again in a pygame
# window. From code, `lab.export_gif(policy, "landing.gif", seed=...)` flies and records a fresh episode
# of any agent.

# %%
run_viewer = panel.viewer()
run_viewer

# %%
from IPython.display import Image

gif = run_viewer.export_gif(runs / "quickstart.gif")
print("GIF:", gif, f"({gif.stat().st_size // 1024} KB)")
Image(filename=str(gif))

# %% [markdown]
# ## 5. How your agent learned
#
# The clips of each evaluation, tiled into one captioned montage: from the first evaluation
# ("5k steps: crashed ...") to the last. `python -m lab gif --progression RUN --out learning.gif`
# makes the same picture from a terminal, and `python -m lab report RUN` embeds it.

# %%
from lab.render.clips import write_progression

run_dir = panel.trainer.run_dir  # the run the panel trained last
montage = write_progression(run_dir, run_dir / "learning.gif")
print("montage:", montage, f"({montage.stat().st_size // 1024} KB)")
Image(filename=str(montage))

# %% [markdown]
# Next: `02_hyperparameter_playground` (what each knob does, as a live A/B), `03_behavior_analysis` (why
# landings fail), `04_td3_explained` (the algorithm, one idea at a time, and a map of what the critic
# learns), `05_sweeps` (which settings land soonest, answered over several seeds). Every term is in the
# [glossary](../docs/glossary.md).
