"""Which knobs the panel shows, where each lives in the config, and the widget for each.

The live controls are exactly ``lab.train.live.LIVE_NAMES``, in that order; the
few settings that apply only when a new run starts are listed here (``RESTART_ONLY``).
A control's allowed range is the config field's ``Bounds`` (``lab.config.bounds_of``),
and its slider spans the field's typical range, clipped to what validation accepts, so a
value the config would reject cannot be chosen. This module only adds how each is drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w

from lab.config import Bounds, Config, ConfigError, bounds_of
from lab.train.live import LIVE_CONFIG_FIELDS, LIVE_NAMES, SCHEDULE_OVERRIDES

TABS: tuple[str, ...] = ("Learning", "Exploration", "Replay", "Shaping", "Network", "Run")
RESTART_NOTE = "applies on restart"
SIZE_CHOICES: tuple[tuple[int, ...], ...] = ((32, 32), (64, 64), (128, 128), (256, 128), (256, 256), (400, 300))
RESTART_ONLY: dict[str, str] = {
    "kind": "noise.kind",
    "warmup_pilot": "training.warmup_pilot",
    "use_per": "training.use_per",
    "actor_hidden": "network.actor_hidden",
    "critic_hidden": "network.critic_hidden",
    "layer_norm": "network.layer_norm",
    "total_steps": "run.total_steps",
    "num_envs": "env.num_envs",
    "seed": "run.seed",
}
"""Settings the panel offers that take effect when a new run starts, by name -> dotted field."""


def engine_bounds(key: str) -> Bounds:
    """What the engine accepts for a dotted config field or a schedule override (noise_scale, per_beta)."""
    if key in SCHEDULE_OVERRIDES:
        low, high = SCHEDULE_OVERRIDES[key]
        return Bounds("number", float(low), float(high))
    return bounds_of(key)


@dataclass(frozen=True)
class Look:
    """How a control is drawn: everything about it that is not the engine's business."""

    tab: str
    label: str
    kind: str = ""
    """log, float, int, choice, toggle, bool, sizes or number; empty: read from the field's Bounds."""
    step: float = 0.01
    options: tuple[Any, ...] = ()
    help: str = ""
    fmt: str = ".3g"


LOOKS: dict[str, Look] = {
    "actor_lr": Look("Learning", "actor lr", step=0.1, help="Adam step size of the actor", fmt=".1e"),
    "critic_lr": Look("Learning", "critic lr", step=0.1, help="Adam step size of the twin critics", fmt=".1e"),
    "tau": Look("Learning", "tau", step=0.1, help="how fast the target networks follow", fmt=".1e"),
    "gamma": Look("Learning", "gamma", step=0.001, help="discount", fmt=".3f"),
    "batch_size": Look("Learning", "batch size", "choice", options=(16, 32, 64, 128, 256, 512, 1024),
                       help="transitions per update"),
    "policy_delay": Look("Learning", "policy delay", step=1, help="critic updates per actor update"),
    "updates_per_step": Look("Learning", "updates/step", step=0.25, help="gradient updates per collected transition",
                             fmt=".2f"),
    "target_policy_noise": Look("Learning", "target noise", step=0.05, help="target policy smoothing std", fmt=".2f"),
    "target_noise_clip": Look("Learning", "target clip", step=0.05, help="clip of the smoothing noise", fmt=".2f"),
    "target_pessimism": Look("Learning", "pessimism", step=0.05,
                             help="bootstrap from the twin critics' min (1, TD3) to their mean (0)", fmt=".2f"),
    "kind": Look("Exploration", "noise type", "toggle", options=("gaussian", "ou", "pink"),
                 help="Gaussian (independent), Ornstein-Uhlenbeck (correlated in time) or pink (1/f)"),
    "warmup_pilot": Look("Exploration", "warm-up pilot",
                         help="who flies the warm-up: random actions, or Gymnasium's hand-written pilot"),
    "sigma": Look("Exploration", "sigma", help="noise std", fmt=".2f"),
    "theta": Look("Exploration", "theta", help="OU mean reversion (OU only)", fmt=".2f"),
    "noise_scale": Look("Exploration", "noise scale", step=0.05,
                        help="multiplier on the noise; moving it pins the schedule", fmt=".2f"),
    "use_per": Look("Replay", "PER", help="prioritized experience replay"),
    "per_alpha": Look("Replay", "alpha", step=0.05, help="how strongly priorities shape sampling", fmt=".2f"),
    "per_beta": Look("Replay", "beta", step=0.05,
                     help="importance-sampling correction; moving it pins the schedule", fmt=".2f"),
    "reward_shaping": Look("Shaping", "shaping", help="add the bonuses below to the learning signal"),
    "shaping_time_penalty": Look("Shaping", "time penalty", fmt=".2f"),
    "shaping_ground_bonus": Look("Shaping", "ground bonus", fmt=".2f"),
    "shaping_leg_bonus": Look("Shaping", "leg bonus", fmt=".2f"),
    "shaping_upright_bonus": Look("Shaping", "upright bonus", fmt=".2f"),
    "shaping_landing_bonus": Look("Shaping", "landing bonus", step=1.0, fmt=".0f"),
    "actor_hidden": Look("Network", "actor layers", options=SIZE_CHOICES),
    "critic_hidden": Look("Network", "critic layers", options=SIZE_CHOICES),
    "layer_norm": Look("Network", "LayerNorm"),
    "total_steps": Look("Run", "total steps", "number", step=1000),
    "num_envs": Look("Run", "envs", step=1),
    "seed": Look("Run", "seed", "number", step=1),
}
"""Labels, tabs and steps; a live name missing here still gets a control with a plain look."""
SCHEDULE_TYPICAL: dict[str, tuple[float, float]] = {"noise_scale": (0.0, 3.0)}
"""Slider spans of the schedule overrides narrower than what the engine accepts."""
_SECTION_TABS = {"training": "Learning", "noise": "Exploration", "network": "Network", "env": "Shaping", "run": "Run"}
_KIND_OF_BOUNDS = {"number": "float", "integer": "int", "choice": "toggle", "bool": "bool", "sizes": "sizes"}


@dataclass(frozen=True)
class ControlSpec:
    """One control: the value it edits, how it is drawn, and its practical range."""

    name: str
    """The live name (``lab.train.live.LIVE_NAMES``) or the config field's own name."""
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

    @property
    def bounds(self) -> Bounds:
        return engine_bounds(self.key)

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
        bounds = self.bounds
        if bounds.low is not None and bounds.high is not None:
            low, high = max(low, bounds.low), min(high, bounds.high)
        return low, high


def control_spec(name: str, dotted: str | None) -> ControlSpec:
    """The control for a live name or restart-only field: range from the engine's Bounds, look from LOOKS."""
    bounds = engine_bounds(dotted or name)
    look = LOOKS.get(name) or Look(_SECTION_TABS.get((dotted or "").split(".")[0], "Learning"),
                                   name.replace("_", " "))
    kind = look.kind or ("log" if bounds.log else _KIND_OF_BOUNDS.get(bounds.kind, "number"))
    options = look.options or bounds.choices
    low, high = 0.0, 1.0
    if bounds.kind in ("number", "integer"):
        low, high = SCHEDULE_TYPICAL.get(name) or bounds.slider
    return ControlSpec(name, dotted, look.tab, look.label, kind, low, high, look.step, options, look.help, look.fmt)


def _specs() -> tuple[ControlSpec, ...]:
    """Per tab, the restart-only settings first, then the live hyperparameters in LIVE_NAMES order."""
    specs = [control_spec(n, f) for n, f in RESTART_ONLY.items()]
    specs += [control_spec(n, LIVE_CONFIG_FIELDS.get(n)) for n in LIVE_NAMES]
    return tuple(sorted(specs, key=lambda s: TABS.index(s.tab)))  # stable: keeps the order within a tab


SPECS: tuple[ControlSpec, ...] = _specs()
SPEC_BY_NAME: dict[str, ControlSpec] = {spec.name: spec for spec in SPECS}


def spec_named(name: str) -> ControlSpec:
    """The control a panel's ``set(name, ...)`` changes; ConfigError naming the allowed ones otherwise."""
    spec = SPEC_BY_NAME.get(name)
    if spec is None:
        raise ConfigError(f"the panel has no control {name!r}: allowed {', '.join(SPEC_BY_NAME)}")
    return spec


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
