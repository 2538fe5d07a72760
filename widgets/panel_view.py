"""What every training panel's view shares: ``PanelView``, the base of the single and the A/B panel.

A panel draws a model (``PanelModel`` or ``CompareModel``) with the same parts: a title,
buttons, a status line, errors and messages, control tabs beside a readout, charts, and a
``Ticker`` that redraws on the kernel's thread. The parts, the redraw loop, ``wait()`` and
the control wiring live here once; a subclass fills in only what it draws differently
(its buttons, status, readout, title, and the rows it adds).
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w

from lab.config import Config, ConfigError
from widgets.controls import RESTART_NOTE, SPECS, ControlSet, ControlSpec, from_widget_value, to_widget_value
from widgets.frontend import PanelFrontend
from widgets.kernel import INTERRUPTED, Ticker

REFRESH_SECONDS = 0.3
"""How often a panel redraws: about three times a second."""

ButtonSpec = tuple[str, str, str, Callable[[], Any], str]
"""A button's label, icon, style, action and tooltip."""


class PanelView:
    """The widgets, redraw loop and control wiring every panel has; subclasses set ``model`` first."""

    model: Any
    """The panel's state (``PanelModel`` or ``CompareModel``): the view only draws it and calls it."""
    widget: Any
    """The panel's outermost widget, built by the subclass's ``_build_widgets``."""

    def _open(self, charts: Any, refresh: float) -> None:
        """Wire the charts and controls to the model, build the widgets and start redrawing."""
        self.charts = charts
        self.model.add_watcher(charts)
        self._syncing = False
        self.controls = ControlSet.build(self.model.base_config)
        self._build_widgets()
        self._ticker = Ticker(self.tick, refresh)
        self._ticker.start()
        self.tick(force=True)

    # ==== what a subclass draws differently =======================================================
    def _run(self) -> Any | None:
        """The trainer or population the panel drives (None before the first Start)."""
        raise NotImplementedError

    def _least_env_step(self) -> int:
        """The env step ``wait(steps=...)`` compares: the slowest agent's."""
        raise NotImplementedError

    def _status_html(self) -> str:
        raise NotImplementedError

    def _readout_html(self) -> str:
        raise NotImplementedError

    def _title_prefix(self) -> str:
        """What the title says between "Lander Lab" and the panel's name."""
        return ""

    def _control_values(self) -> tuple[Config, dict[str, float]]:
        """The config and pinned schedule overrides the controls show."""
        raise NotImplementedError

    def _poll(self) -> None:
        self.model.poll()

    # ==== the state, for notebooks and tests =======================================================
    @property
    def errors(self) -> list[str]:
        """Errors the panel is showing (refused values, failed actions, a failed run)."""
        return self.model.errors

    @property
    def messages(self) -> list[str]:
        return self.model.messages

    @property
    def figure(self) -> Any:
        return self.charts.figure

    # ==== the widget tree ==========================================================================
    def _build_parts(self, buttons: dict[str, ButtonSpec], readout_layout: w.Layout) -> None:
        """The parts every panel shows; ``_frame`` arranges them with the subclass's own."""
        self.buttons: dict[str, w.Button] = {key: self._button(*spec) for key, spec in buttons.items()}
        self.title = w.HTML()
        self.status = w.HTML(layout=w.Layout(margin="2px 0"))
        self.error_box = w.HTML(layout=w.Layout(margin="2px 0"))
        self.message_box = w.HTML(layout=w.Layout(margin="2px 0"))
        self.readout = w.HTML(layout=readout_layout)
        for spec in SPECS:
            self.controls.widgets[spec.name].observe(lambda change, spec=spec: self._on_control(spec, change),
                                                     names="value")
        self.tabs = self.controls.tab_box()

    def _button(self, label: str, icon: str, style: str, handler: Callable[[], Any], tooltip: str) -> w.Button:
        b = w.Button(description=label, icon=icon, button_style=style, tooltip=tooltip, layout=w.Layout(width="auto"))
        b.on_click(lambda _: self._guard(handler))
        return b

    def _frame(self, above_status: Sequence[w.Widget], below_controls: Sequence[w.Widget]) -> w.VBox:
        """Title, buttons, status, notices, controls beside the readout, then the subclass's rows."""
        widget = w.VBox([
            self.title,
            w.HBox(list(self.buttons.values()), layout=w.Layout(flex_flow="row wrap")),
            *above_status,
            self.status, self.error_box, self.message_box,
            w.HBox([self.tabs, self.readout]),
            *below_controls,
            PanelFrontend(),
        ], layout=w.Layout(width="100%"))
        widget.add_class("lander-lab-panel")
        return widget

    def _build_widgets(self) -> None:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # ==== actions ==================================================================================
    def start(self) -> Any:
        """Train in the background (a new run when settings need one) and redraw as it goes."""
        run = self.model.start()
        self._ticker.start()
        self.tick(force=True)
        return run

    def stop(self, wait: bool = False) -> Any:
        """Stop training; the loop writes a checkpoint first. Does not block unless wait is true."""
        return self.model.stop(wait=wait)

    def reset_to_preset(self) -> None:
        """Every control back to the starting config; live values also go to the running run."""
        self.model.reset_to_base()
        self._sync_controls()
        self.tick(force=True)

    def wait(self, timeout: float | None = None, steps: int | None = None) -> dict[str, Any]:
        """Block until the run ends (or reaches ``steps``), redrawing as it goes; Ctrl-C stops it cleanly."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while self.model.running:
                if steps is not None and self._least_env_step() >= steps:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                time.sleep(self._ticker.interval)
                self.tick()
        except KeyboardInterrupt:
            self.stop(wait=True)
            self.model.stop_reason = INTERRUPTED
            raise
        finally:
            self.tick(force=True)
        run = self._run()
        return run.summary() if run is not None else {}

    def close(self) -> None:
        """Stop training (with a checkpoint), stop redrawing and close the widgets."""
        self._ticker.stop()
        self.model.close()
        self.widget.close()

    # ==== the redraw, on the kernel's thread =========================================================
    def tick(self, force: bool = False) -> None:
        """Redraw charts, status and readout from what the training thread has recorded."""
        self._poll()
        self.charts.flush(force=force)
        self.status.value = self._status_html()
        self.error_box.value = "".join(
            f'<div class="lab-error" style="color:#cf222e; font-family: monospace">⚠ {html.escape(e)}</div>'
            for e in self.model.errors)
        self.message_box.value = "".join(f'<div class="lab-message" style="color:#57606a">{html.escape(m)}</div>'
                                         for m in self.model.messages)
        self.readout.value = self._readout_html()
        self._refresh_buttons()
        run = self._run()
        where = f" · {run.run_dir}" if run is not None else ""
        self.title.value = (f"<b>Lander Lab</b> · {self._title_prefix()}"
                            f"{html.escape(self.model.name)}{html.escape(where)}")

    def _refresh_buttons(self) -> None:
        running = self.model.running
        self.buttons["start"].disabled = running
        self.buttons["stop"].disabled = not running

    def _readout_box(self, head: str, table: str, log: str) -> str:
        """The readout's frame: heading, table, the settings waiting for a restart, the change log."""
        pending = self.model.restart_diff()
        note = (f"<div style='color:#9a6700'>{RESTART_NOTE}: {html.escape(', '.join(pending))}</div>"
                if pending else "")
        return (f"<div class='lab-readout' style='font-family: monospace; font-size: 12px'>"
                f"<b>{head}</b><table>{table}</table>{note}{log}</div>")

    # ==== controls ==================================================================================
    def _change(self, spec: ControlSpec, value: Any) -> None:
        """Apply a value as if the control were dragged to it; raises ConfigError when refused."""
        self._apply(spec, value)
        self._set_widget(spec, value)
        self.tick(force=True)

    def _on_control(self, spec: ControlSpec, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        try:
            self._apply(spec, from_widget_value(spec, change["new"]))
        except ConfigError as exc:
            self.model.error(str(exc))
            self._set_widget(spec, from_widget_value(spec, change["old"]))
        self.tick(force=True)

    def _apply(self, spec: ControlSpec, value: Any) -> None:
        """Hand the value to the model (next run, and the running one when live); raises ConfigError."""
        self.model.apply(spec.key, value)

    def _set_widget(self, spec: ControlSpec, value: Any) -> None:
        self._syncing = True
        try:
            self.controls.widgets[spec.name].value = to_widget_value(spec, value)
        finally:
            self._syncing = False

    def _sync_controls(self) -> None:
        """Every control to the model's value (pinned schedule overrides to their pin)."""
        config, pins = self._control_values()
        for spec in SPECS:
            self._set_widget(spec, pins.get(spec.name, spec.config_value(config)))

    def _guard(self, action: Callable[[], Any]) -> None:
        """Run a button's action; any error shows in the panel instead of vanishing into a log."""
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a visible message
            self.model.error(f"{type(exc).__name__}: {exc}")
        self.tick(force=True)


def format_value(value: Any) -> str:
    """A readout cell: floats to four significant digits, everything else as it prints."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
