"""The panel's controls, generated from the config fields' metadata.

Every config field gets one control (``lab.config.config_fields``): its widget kind and
range come from the field's ``Bounds``, whether it acts on the running engine from its
``live`` metadata, and its tooltip from the field's docstring. The only thing decided
here is where a control sits: ``TAB_OF`` places fields on tabs. So a new config field
shows up in the panel with no edit here, and no list of live fields exists but the config's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as w
import numpy as np

from lab.config import AGENT, Config, ConfigError, FieldInfo, config_fields, field_info

TABS: tuple[str, ...] = ("Learning", "Exploration", "Replay", "Shaping", "Network", "Environment", "Run")
TAB_OF: dict[str, str] = {
    "training.": "Learning", "noise.": "Exploration", "network.": "Network", "env.": "Environment", "run.": "Run",
    "training.warmup_pilot": "Exploration", "training.learning_starts": "Exploration",
    "training.warmup_episodes": "Exploration", "training.buffer_size": "Replay", "training.use_per": "Replay",
    "training.per_": "Replay", "env.reward_shaping": "Shaping", "env.shaping_": "Shaping",
}
"""Where each control sits: the longest matching prefix of its dotted name wins."""
RESTART_NOTE = "applies on restart"
SIZE_CHOICES: tuple[str, ...] = ("32-32", "64-64", "128-128", "256-128", "256-256", "400-300")
"""Layer widths a sizes control suggests; any other list can be typed in."""
SLIDER_VALUES = 256
"""An integer field whose practical range holds more values than this gets a number box, not a slider."""
WIDE_NUMBER = 10.0
"""A float field without a typical range wider than this gets a number box, not a slider."""


def tab_of(key: str) -> str:
    return TAB_OF[max((p for p in TAB_OF if key.startswith(p)), key=len)]


def field_help(key: str) -> str:
    """A field's docstring (the string under it in lab/config.py), as the control's tooltip."""
    return " ".join(field_info(key).doc.split())


@dataclass(frozen=True)
class ControlSpec:
    """One control: the field it edits, how it is drawn, and the range it offers."""

    info: FieldInfo
    tab: str
    kind: str
    """log, float, int, powers, number, toggle, dropdown, bool, sizes or text."""
    low: float = 0.0
    high: float = 1.0
    step: float = 1.0

    key = property(lambda self: self.info.key, doc="The dotted config field.")
    live = property(lambda self: self.info.live is not None, doc="Changes the running engine (else the next run).")
    label = property(lambda self: self.info.name.replace("_", " "))

    def slider_range(self, value: Any) -> tuple[float, float]:
        """The offered range, widened to include ``value`` but never past what the field allows."""
        low, high = self.low, self.high
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            low, high = min(low, value), max(high, value)
        return low, high


def _spec(info: FieldInfo) -> ControlSpec:
    """The control a field's Bounds call for; open ends are nudged inside, so no end is a refused value."""
    b, tab = info.bounds, tab_of(info.key)
    if b.kind in ("bool", "sizes", "text"):
        return ControlSpec(info, tab, b.kind)
    if b.kind == "choice":
        return ControlSpec(info, tab, "toggle" if len(b.choices) <= 4 else "dropdown")
    assert b.low is not None and b.high is not None
    low, high = b.typical if b.typical is not None else (b.low, b.high)
    if b.kind == "integer":
        if b.log:
            return ControlSpec(info, tab, "powers", low, high)
        slider = high - low <= SLIDER_VALUES
        return ControlSpec(info, tab, "int" if slider else "number", *((low, high) if slider else (b.low, b.high)))
    if b.log:
        low = low if low > 0 else high * 1e-8
        return ControlSpec(info, tab, "log", low, high, 0.01)
    if b.typical is None and high - low > WIDE_NUMBER:
        return ControlSpec(info, tab, "float_box", float(np.nextafter(b.low, b.high)) if b.low_open else b.low,
                           float(np.nextafter(b.high, b.low)) if b.high_open else b.high)
    step = 10.0 ** math.floor(math.log10((high - low) / 100))
    low = low + step if b.low_open and low <= b.low else low
    high = high - step if b.high_open and high >= b.high else high
    return ControlSpec(info, tab, "float", low, high, step)


SPECS: tuple[ControlSpec, ...] = tuple(sorted((_spec(f) for f in config_fields()),
                                              key=lambda s: (TABS.index(s.tab), not s.live)))
"""Every field's control, tab by tab, live ones first, each group in the config's order."""
SPEC_BY_KEY: dict[str, ControlSpec] = {spec.key: spec for spec in SPECS}


def spec_named(name: str) -> ControlSpec:
    """The control for a dotted or bare field name; ConfigError (from the config) for an unknown one."""
    return SPEC_BY_KEY[field_info(name).key]


def to_widget_value(spec: ControlSpec, value: Any) -> Any:
    """Config value -> what the widget holds."""
    if spec.kind == "sizes":
        return "-".join(str(int(v)) for v in value)
    return value


def from_widget_value(spec: ControlSpec, value: Any) -> Any:
    """Widget value -> the config value (ConfigError naming the field for a list of widths that does not parse)."""
    if spec.kind == "sizes":
        widths = re.findall(r"\d+", str(value))
        if not widths or re.sub(r"[\d\s,\-x×]", "", str(value)):
            raise ConfigError(f"{spec.key}={value!r} is invalid: allowed layer widths such as 256-256")
        return [int(v) for v in widths]
    if spec.kind in ("int", "number", "powers"):
        return int(value)
    if spec.kind in ("float", "log", "float_box"):
        return float(value)
    if spec.kind == "bool":
        return bool(value)
    return value


def show(spec: ControlSpec, widget: w.ValueWidget, value: Any) -> None:
    """Put a config value in its widget, widening the widget's range or options so it holds the value exactly."""
    shown = to_widget_value(spec, value)
    if spec.kind == "powers" and shown not in widget.options:
        widget.options = sorted({*widget.options, shown})
    elif spec.kind in ("float", "int", "log"):
        end = math.log10(shown) if spec.kind == "log" else shown
        widget.min, widget.max = min(widget.min, end), max(widget.max, end)
    widget.value = shown


def _powers(spec: ControlSpec, value: Any, limits: tuple[float, float]) -> list[int]:
    """Powers of two across the range (within limits), and the value itself."""
    low, high = max(spec.low, limits[0]), min(spec.high, limits[1])
    return sorted({2**k for k in range(64) if low <= 2**k <= high} | {int(value)})


def _limits(key: str, config: Config) -> tuple[float, float]:
    """What another field of the config leaves allowed: a batch fits in the replay buffer."""
    if key == "training.batch_size":
        return 0, config.training.buffer_size
    if key == "training.buffer_size":
        return config.training.batch_size, math.inf
    return -math.inf, math.inf


def make_widget(spec: ControlSpec, value: Any, limits: tuple[float, float] = (-math.inf, math.inf)) -> w.ValueWidget:
    """A widget for a spec, starting at value, that offers only values the field allows."""
    style = {"description_width": "150px"}
    layout = w.Layout(width="420px")
    common: dict[str, Any] = {"description": spec.label, "style": style, "layout": layout,
                              "continuous_update": False}
    low, high = spec.slider_range(value)
    widget: w.ValueWidget
    if spec.kind == "log":
        widget = w.FloatLogSlider(value=value, base=10, min=math.log10(low), max=math.log10(high), step=spec.step,
                                  readout_format=".2e", **common)
    elif spec.kind == "float":
        widget = w.FloatSlider(value=value, min=low, max=high, step=spec.step, readout_format=".4g", **common)
    elif spec.kind == "int":
        widget = w.IntSlider(value=value, min=int(low), max=int(high), step=1, **common)
    elif spec.kind == "powers":
        widget = w.SelectionSlider(options=_powers(spec, value, limits), value=int(value), **common)
    elif spec.kind == "number":
        widget = w.BoundedIntText(value=int(value), min=int(low), max=int(high), **common)
    elif spec.kind == "float_box":
        widget = w.BoundedFloatText(value=float(value), min=low, max=high, **common)
    elif spec.kind == "toggle":
        widget = w.ToggleButtons(options=list(spec.info.bounds.choices), value=value, description=spec.label,
                                 style={**style, "button_width": "auto"})
    elif spec.kind == "dropdown":
        widget = w.Dropdown(options=list(spec.info.bounds.choices), value=value, description=spec.label, style=style,
                            layout=layout)
    elif spec.kind == "bool":
        widget = w.Checkbox(value=bool(value), description=spec.label, indent=False, layout=layout)
    elif spec.kind == "sizes":
        widget = w.Combobox(value=value, options=list(SIZE_CHOICES), ensure_option=False, **common)
    else:
        widget = w.Text(value=str(value), **common)
    where = {AGENT: "live, per agent", None: RESTART_NOTE}.get(spec.info.live, "live, every agent at once")
    widget.tooltip = f"{spec.key} ({where}): {field_help(spec.key)}"
    return widget


@dataclass
class ControlSet:
    """The panel's widgets, one per config field, and a badge beside each for a change waiting for a restart."""

    widgets: dict[str, w.ValueWidget] = field(default_factory=dict)
    badges: dict[str, w.HTML] = field(default_factory=dict)

    @classmethod
    def build(cls, config: Config) -> ControlSet:
        controls = cls()
        for spec in SPECS:
            value = to_widget_value(spec, config.get(spec.key))
            controls.widgets[spec.key] = make_widget(spec, value, _limits(spec.key, config))
            controls.badges[spec.key] = w.HTML("")
        return controls

    def tab_box(self) -> w.Tab:
        children, titles = [], []
        for tab in TABS:
            specs = [s for s in SPECS if s.tab == tab]
            rows: list[w.Widget] = [w.HBox([self.widgets[s.key], self.badges[s.key]]) for s in specs if s.live]
            later = [w.HBox([self.widgets[s.key], self.badges[s.key]]) for s in specs if not s.live]
            if later:
                rows.append(w.HTML("<i style='color:#57606a'>The settings below wait for the next run: press Stop, "
                                   "then Start.</i>"))
            children.append(w.VBox(rows + later))
            titles.append(tab if any(s.live for s in specs) else f"{tab} ({RESTART_NOTE})")
        box = w.Tab(children=children)
        for i, title in enumerate(titles):
            box.set_title(i, title)
        return box
