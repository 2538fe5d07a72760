"""Which knobs the panel shows, where each lives in the config, and the widget for each.

A ``ControlSpec`` names a config field (or one of the trainer's schedule overrides),
the tab it sits in, and a practical range. Whether it is live or "applies on restart"
is not written here: it is read from ``lab.hyperparameters.LIVE_NAMES``, so the panel
can never promise a live change the engine would refuse. The engine's own limits are
read from its validation message (``engine_range``), and every slider range is clipped
to them, so a value the config would reject cannot be chosen.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import ipywidgets as w

from lab.config import Config, ConfigError
from lab.hyperparameters import LIVE_CONFIG_FIELDS, LIVE_NAMES, SCHEDULE_OVERRIDES

TABS: tuple[str, ...] = ("Learning", "Exploration", "Replay", "Shaping", "Network", "Run")
RESTART_NOTE = "applies on restart"
SIZE_CHOICES: tuple[tuple[int, ...], ...] = ((32, 32), (64, 64), (128, 128), (256, 128), (256, 256), (400, 300))


@dataclass(frozen=True)
class Range:
    """An interval as the engine validates it."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


_NUMBER = r"(-?[0-9.]+(?:e[-+]?[0-9]+)?)"
_FLOAT_RE = re.compile(rf"allowed a number in ([\[(]){_NUMBER}, {_NUMBER}([\])])")
_INT_RE = re.compile(rf"allowed an integer in \[{_NUMBER}, {_NUMBER}\]")


@cache
def engine_range(name: str) -> Range | None:
    """The range the engine accepts for a config field (dotted) or schedule override.

    Config validation states its interval in its error message; asking it to validate
    a non-number makes it say the interval, which keeps the engine the one source of truth.
    """
    if name in SCHEDULE_OVERRIDES:
        low, high = SCHEDULE_OVERRIDES[name]
        return Range(low, high)
    try:
        Config().with_overrides({name: "not a number"})
    except ConfigError as exc:
        text = str(exc)
        if m := _FLOAT_RE.search(text):
            return Range(float(m[2]), float(m[3]), m[1] == "(", m[4] == ")")
        if m := _INT_RE.search(text):
            return Range(int(float(m[1])), int(float(m[2])), integer=True)
    return None


@dataclass(frozen=True)
class ControlSpec:
    """One control: the value it edits, how it is drawn, and its practical range."""

    name: str
    """The live name (``lab.hyperparameters.LIVE_NAMES``) or the config field's own name."""
    field: str | None
    """Dotted config field; None for schedule overrides (noise_scale, per_beta)."""
    tab: str
    label: str
    kind: str
    """log, float, int, choice, toggle, bool, sizes or number."""
    low: float = 0.0
    high: float = 1.0
    step: float = 0.01
    options: tuple[Any, ...] = ()
    help: str = ""
    fmt: str = ".3g"

    @property
    def live(self) -> bool:
        """Changeable while training runs; otherwise it applies when a new run starts."""
        return self.name in LIVE_NAMES

    @property
    def key(self) -> str:
        """What the engine validates: the dotted field, or the override's name."""
        return self.field or self.name

    def config_value(self, config: Config) -> Any:
        """The value this control shows for a config (a schedule override's starting value)."""
        if self.name == "noise_scale":
            return config.noise.scale_start
        if self.name == "per_beta":
            return config.training.per_beta_start
        section, name = self.key.split(".")
        return getattr(getattr(config, section), name)

    def slider_range(self, value: Any = None) -> tuple[float, float]:
        """The practical range, widened to include ``value`` and clipped to the engine's limits."""
        low, high = self.low, self.high
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            low, high = min(low, value), max(high, value)
        rng = engine_range(self.key)
        if rng is not None:
            low, high = max(low, rng.low), min(high, rng.high)
        return low, high


def _specs() -> tuple[ControlSpec, ...]:
    s = ControlSpec
    return (
        s("actor_lr", "training.actor_lr", "Learning", "actor lr", "log", 1e-5, 1e-2, 0.1,
          help="Adam step size of the actor", fmt=".1e"),
        s("critic_lr", "training.critic_lr", "Learning", "critic lr", "log", 1e-5, 1e-2, 0.1,
          help="Adam step size of the twin critics", fmt=".1e"),
        s("tau", "training.tau", "Learning", "tau", "log", 1e-4, 1e-1, 0.1,
          help="how fast the target networks follow", fmt=".1e"),
        s("gamma", "training.gamma", "Learning", "gamma", "float", 0.9, 0.999, 0.001, help="discount", fmt=".3f"),
        s("batch_size", "training.batch_size", "Learning", "batch size", "choice",
          options=(16, 32, 64, 128, 256, 512, 1024), help="transitions per update"),
        s("policy_delay", "training.policy_delay", "Learning", "policy delay", "int", 1, 8, 1,
          help="critic updates per actor update"),
        s("updates_per_step", "training.updates_per_step", "Learning", "updates/step", "float", 0.25, 4.0, 0.25,
          help="gradient updates per collected transition", fmt=".2f"),
        s("target_policy_noise", "training.target_policy_noise", "Learning", "target noise", "float", 0.0, 1.0,
          0.05, help="target policy smoothing std", fmt=".2f"),
        s("target_noise_clip", "training.target_noise_clip", "Learning", "target clip", "float", 0.0, 1.0, 0.05,
          help="clip of the smoothing noise", fmt=".2f"),
        s("kind", "noise.kind", "Exploration", "noise type", "toggle", options=("gaussian", "ou"),
          help="Gaussian (independent) or Ornstein-Uhlenbeck (correlated in time)"),
        s("sigma", "noise.sigma", "Exploration", "sigma", "float", 0.0, 1.0, 0.01, help="noise std", fmt=".2f"),
        s("theta", "noise.theta", "Exploration", "theta", "float", 0.0, 2.0, 0.01,
          help="OU mean reversion (OU only)", fmt=".2f"),
        s("noise_scale", None, "Exploration", "noise scale", "float", 0.0, 3.0, 0.05,
          help="multiplier on the noise; moving it pins the schedule", fmt=".2f"),
        s("use_per", "training.use_per", "Replay", "PER", "bool", help="prioritized experience replay"),
        s("per_alpha", "training.per_alpha", "Replay", "alpha", "float", 0.0, 1.0, 0.05,
          help="how strongly priorities shape sampling", fmt=".2f"),
        s("per_beta", None, "Replay", "beta", "float", 0.0, 1.0, 0.05,
          help="importance-sampling correction; moving it pins the schedule", fmt=".2f"),
        s("reward_shaping", "env.reward_shaping", "Shaping", "shaping", "bool",
          help="add the bonuses below to the learning signal"),
        s("shaping_time_penalty", "env.shaping_time_penalty", "Shaping", "time penalty", "float", 0.0, 0.5, 0.01,
          fmt=".2f"),
        s("shaping_ground_bonus", "env.shaping_ground_bonus", "Shaping", "ground bonus", "float", 0.0, 1.0, 0.01,
          fmt=".2f"),
        s("shaping_leg_bonus", "env.shaping_leg_bonus", "Shaping", "leg bonus", "float", 0.0, 1.0, 0.01, fmt=".2f"),
        s("shaping_upright_bonus", "env.shaping_upright_bonus", "Shaping", "upright bonus", "float", 0.0, 0.5, 0.01,
          fmt=".2f"),
        s("shaping_landing_bonus", "env.shaping_landing_bonus", "Shaping", "landing bonus", "float", 0.0, 100.0,
          1.0, fmt=".0f"),
        s("actor_hidden", "network.actor_hidden", "Network", "actor layers", "sizes", options=SIZE_CHOICES),
        s("critic_hidden", "network.critic_hidden", "Network", "critic layers", "sizes", options=SIZE_CHOICES),
        s("layer_norm", "network.layer_norm", "Network", "LayerNorm", "bool"),
        s("total_steps", "run.total_steps", "Run", "total steps", "number", 1, 10_000_000, 1000),
        s("num_envs", "env.num_envs", "Run", "envs", "int", 1, 16, 1),
        s("seed", "run.seed", "Run", "seed", "number", 0, 2**31 - 1, 1),
    )


SPECS: tuple[ControlSpec, ...] = _specs()
SPEC_BY_NAME: dict[str, ControlSpec] = {spec.name: spec for spec in SPECS}
assert all(s.field == LIVE_CONFIG_FIELDS[s.name] for s in SPECS if s.name in LIVE_CONFIG_FIELDS)


def _sizes_label(sizes: Any) -> str:
    return "-".join(str(int(v)) for v in sizes)


def to_widget_value(spec: ControlSpec, value: Any) -> Any:
    """Config value -> what the widget holds."""
    if spec.kind == "sizes":
        return _sizes_label(value)
    return value


def from_widget_value(spec: ControlSpec, value: Any) -> Any:
    """Widget value -> the config/engine value."""
    if spec.kind == "sizes":
        return [int(v) for v in str(value).split("-")]
    if spec.kind in ("int", "number", "choice"):
        return int(value)
    if spec.kind in ("float", "log"):
        return float(value)
    if spec.kind == "bool":
        return bool(value)
    return value


def make_widget(spec: ControlSpec, value: Any, batch_limit: int | None = None) -> w.ValueWidget:
    """A widget for a spec, starting at value, that can only hold values the engine accepts."""
    style = {"description_width": "110px"}
    layout = w.Layout(width="380px")
    common: dict[str, Any] = {"description": spec.label, "style": style, "layout": layout,
                              "continuous_update": False}
    tooltip = spec.help + ("" if spec.live else f" ({RESTART_NOTE})")
    if spec.kind == "log":
        low, high = spec.slider_range(value)
        widget: w.ValueWidget = w.FloatLogSlider(value=value, base=10, min=math.log10(low), max=math.log10(high),
                                                 step=spec.step, readout_format=spec.fmt, **common)
    elif spec.kind == "float":
        low, high = spec.slider_range(value)
        widget = w.FloatSlider(value=value, min=low, max=high, step=spec.step, readout_format=spec.fmt, **common)
    elif spec.kind == "int":
        low, high = spec.slider_range(value)
        widget = w.IntSlider(value=value, min=int(low), max=int(high), step=int(spec.step), **common)
    elif spec.kind == "choice":
        options = [v for v in spec.options if batch_limit is None or v <= batch_limit]
        options = sorted(set(options) | {int(value)})
        widget = w.SelectionSlider(options=options, value=int(value), **common)
    elif spec.kind == "toggle":
        widget = w.ToggleButtons(options=list(spec.options), value=value, description=spec.label, style=style)
    elif spec.kind == "bool":
        widget = w.Checkbox(value=bool(value), description=spec.label, indent=False,
                            layout=w.Layout(width="380px"))
    elif spec.kind == "sizes":
        labels = [_sizes_label(o) for o in spec.options]
        current = value if isinstance(value, str) else _sizes_label(value)
        if current not in labels:
            labels.append(current)
        widget = w.Dropdown(options=labels, value=current, description=spec.label, style=style, layout=layout)
    elif spec.kind == "number":
        low, high = spec.slider_range(value)
        widget = w.BoundedIntText(value=int(value), min=int(low), max=int(high), step=int(spec.step),
                                  description=spec.label, style=style, layout=layout)
    else:  # pragma: no cover - a spec typo
        raise ValueError(f"unknown control kind {spec.kind!r}")
    widget.tooltip = tooltip
    return widget


@dataclass
class ControlSet:
    """The panel's widgets, one per spec, grouped by tab."""

    widgets: dict[str, w.ValueWidget] = field(default_factory=dict)
    badges: dict[str, w.HTML] = field(default_factory=dict)

    @classmethod
    def build(cls, config: Config) -> ControlSet:
        controls = cls()
        for spec in SPECS:
            value = to_widget_value(spec, spec.config_value(config))
            controls.widgets[spec.name] = make_widget(spec, value, batch_limit=config.training.buffer_size)
            controls.badges[spec.name] = w.HTML("")
        return controls

    def tab_box(self) -> w.Tab:
        children = []
        for tab in TABS:
            rows: list[w.Widget] = []
            specs = [s for s in SPECS if s.tab == tab]
            if specs and not any(s.live for s in specs):
                rows.append(w.HTML(f"<i>These settings {RESTART_NOTE}: press Stop, then Start for a new run.</i>"))
            for spec in specs:
                rows.append(w.HBox([self.widgets[spec.name], self.badges[spec.name]]))
            children.append(w.VBox(rows))
        box = w.Tab(children=children)
        for i, tab in enumerate(TABS):
            specs = [s for s in SPECS if s.tab == tab]
            box.set_title(i, tab if any(s.live for s in specs) else f"{tab} ({RESTART_NOTE})")
        return box
