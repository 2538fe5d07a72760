"""The two things the panel needs from the browser itself, in one invisible anywidget.

* Plotly's ``FigureWidget`` sizes itself when it is first drawn; inside a freshly
  rendered output that can be before its container has a width, and it falls back to
  700 px. It re-measures on a window ``resize`` event, so this widget sends one once
  the panel is on the page (and again when a hidden tab of it is shown).
* ipywidgets' tabs have a fixed width that cuts titles like "Network (applies on
  restart)"; a scoped style lets them take the width of their text.
"""

from __future__ import annotations

import anywidget

_ESM = """
function nudge() { window.dispatchEvent(new Event("resize")); }
export default {
  render({ el }) {
    el.style.display = "none";
    const timers = [150, 600, 1500].map((ms) => setTimeout(nudge, ms));
    const panel = () => el.closest(".lander-lab-panel");
    const onClick = (event) => {
      if (event.target.closest && event.target.closest(".lm-TabBar-tab")) setTimeout(nudge, 50);
    };
    setTimeout(() => panel() && panel().addEventListener("click", onClick), 0);
    return () => {
      timers.forEach(clearTimeout);
      if (panel()) panel().removeEventListener("click", onClick);
    };
  },
};
"""

_CSS = """
.lander-lab-panel .lm-TabBar-tab { flex: 0 0 auto !important; min-width: 0 !important; max-width: none !important; }
.lander-lab-panel .lab-status { padding: 2px 0; }
"""


class PanelFrontend(anywidget.AnyWidget):
    """Invisible: resizes the charts to their container and styles the panel's tabs."""

    _esm = _ESM
    _css = _CSS
