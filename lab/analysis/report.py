"""A run's report: one self-contained HTML file (Plotly, readable offline) and a Markdown summary.

The report answers what a student asks after training: did it learn, how did the
episodes end, what went wrong most often and when did that change. Everything is
computed from the run folder through ``DiagnosticsTracker``, so a report can be made
while the run is still going, or after it crashed.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lab.analysis.diagnostics import moving_average
from lab.analysis.run_data import RunData, load_run
from lab.io import atomic_write_text, check_replaceable
from lab.lander.behavior import BEHAVIORS, OUTCOMES, Outcome

MAX_POINTS = 4000
"""Per-episode scatter points drawn per series; longer runs are thinned evenly (averages use every episode)."""

OUTCOME_COLORS: dict[str, str] = {
    "LANDED_PERFECTLY": "#1a9850", "LANDED_SOFTLY": "#66bd63", "LANDED_HARD": "#a6d96a", "LANDED_TILTED": "#d9ef8b",
    "CRASHED_HIGH_VELOCITY": "#d73027", "CRASHED_SPINNING": "#f46d43", "CRASHED_SIDEWAYS": "#fdae61",
    "CRASHED_TILTED": "#fee08b", "FLEW_OFF_LEFT": "#762a83", "FLEW_OFF_RIGHT": "#9970ab", "FLEW_OFF_TOP": "#c2a5cf",
    "TIMED_OUT_HOVERING": "#2166ac", "TIMED_OUT_DESCENDING": "#4393c3", "TIMED_OUT_ASCENDING": "#92c5de",
}

WHAT_IT_MEANS: dict[str, str] = {
    "LANDED_PERFECTLY": "landed on the pad, upright, softly, and came to rest",
    "LANDED_SOFTLY": "landed softly, but off the pad, after a bounce, or without shutting the engines down",
    "LANDED_HARD": "landed, but sinking faster than 1.5 m/s: close to breaking the legs",
    "LANDED_TILTED": "came to rest leaning over, on a slope or on one leg",
    "CRASHED_HIGH_VELOCITY": "came down too fast: the main engine did not brake in time",
    "CRASHED_SPINNING": "lost attitude control and tumbled into the ground",
    "CRASHED_SIDEWAYS": "hit the ground while sliding sideways",
    "CRASHED_TILTED": "touched down leaning over, so the body hit the ground",
    "FLEW_OFF_LEFT": "drifted off the left edge of the screen",
    "FLEW_OFF_RIGHT": "drifted off the right edge of the screen",
    "FLEW_OFF_TOP": "climbed out of the top of the screen and never came back",
    "TIMED_OUT_HOVERING": "hovered until the time limit instead of landing (it avoids the crash penalty)",
    "TIMED_OUT_DESCENDING": "was still sinking when time ran out: too cautious",
    "TIMED_OUT_ASCENDING": "was climbing when time ran out",
}


@dataclass(frozen=True)
class OutputKind:
    """A kind of page the lab writes and may replace on the next run: nothing else is ever overwritten.

    Its HTML carries ``<meta name="generator" content="lander-lab NAME">`` and its Markdown starts with an
    HTML comment saying the same; ``legacy`` are the titles of pages written before the markers existed.
    """

    name: str
    command: str
    legacy: tuple[bytes, ...] = ()

    @property
    def html_marker(self) -> str:
        return f'<meta name="generator" content="lander-lab {self.name}">'

    @property
    def markdown_marker(self) -> str:
        return (f"<!-- lander-lab {self.name}: written by python -m lab {self.command}, which replaces this file "
                "when run again -->")

    def check_replaceable(self, path: str | Path, what: str = "") -> None:
        """Refuse ``path`` unless it is absent or an earlier page of this kind (lab.io.check_replaceable)."""
        markers = (f'content="lander-lab {self.name}"'.encode(), f"<!-- lander-lab {self.name}:".encode(),
                   *self.legacy)
        check_replaceable(path, markers, what or f"a {self.name} (python -m lab {self.command})")


REPORT = OutputKind("report", "report", (b"<title>Lander Lab report: ", b"# Lander Lab report: "))
REPORT_FILES = ("report.html", "report.md")
MONTAGE_FILE = "learning.gif"


def write_report(run_dir: str | Path, out_dir: str | Path | None = None, window: int = 100) -> tuple[Path, Path]:
    """Write report.html and report.md (into the run folder unless out_dir is given); return both paths."""
    return save_report(load_run(run_dir, window=window), out_dir)


def save_report(run: RunData, out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Write a loaded run's report.html and report.md (and learning.gif when it has clips); return the two."""
    out = Path(out_dir) if out_dir is not None else run.path
    check_report_folder(out)
    page, markdown = build_report(run, progression_montage(run, out))
    html_file, md_file = (out / name for name in REPORT_FILES)
    return atomic_write_text(html_file, page), atomic_write_text(md_file, markdown)


def check_report_folder(out: Path) -> None:
    """Before anything is computed: the report's files may only replace an earlier report's."""
    from lab.render.clips import check_montage_replaceable

    for name in REPORT_FILES:
        REPORT.check_replaceable(out / name)
    check_montage_replaceable(out / MONTAGE_FILE)


def build_report(run: RunData, montage: Path | None = None) -> tuple[str, str]:
    """The HTML page and the Markdown summary of a loaded run; ``montage`` is a GIF to show how it learned."""
    lines = narrative(run)
    tables = summary_tables(run)
    charts = figures(run)
    return _html_page(run, lines, tables, charts, montage), _markdown(run, lines, tables, montage)


def progression_montage(run: RunData, out_dir: Path) -> Path | None:
    """OUT/learning.gif from the run's evaluation clips, or None when it has none.

    A damaged clip costs the montage (with a note in the summary), never the report; a clip path that leads
    out of the run's clips/ folder is refused and noted.
    """
    from lab.render.clips import NoClips, write_progression

    try:
        return write_progression(run.path, out_dir / MONTAGE_FILE, on_refused=run.problems.append)
    except NoClips:
        return None
    except (OSError, ValueError) as exc:
        run.problems.append(f"the evaluation clips could not be made into a montage: {exc}")
        return None


# ---- the words -------------------------------------------------------------------------------------------
def narrative(run: RunData) -> list[str]:
    """Short sentences: how far it got, how it ends now, what went wrong most often, and when that changed."""
    tracker = run.tracker
    summary = tracker.summary()
    lines: list[str] = []
    n = summary["episodes"]
    seconds = run.train_seconds()
    state = run.final_state
    head = f"{n:,} episodes over {run.env_steps():,} env steps"
    if seconds:
        head += f" in {_duration(seconds)} of training"
    lines.append(head + (f"; the run is {state}." if state else "."))
    evaluations = summary.get("evaluations")
    if evaluations:
        best, last = evaluations["best"], evaluations["last"]
        lines.append(f"Best evaluation {best['mean_return']:.1f} at step {best['env_step']:,}; "
                     f"last {last['mean_return']:.1f} at step {last['env_step']:,}.")
    solved_step, solved_seconds = run.solved()
    if solved_step is not None:
        when = f" after {_duration(solved_seconds)}" if solved_seconds else ""
        lines.append(f"Solved (evaluation mean >= {run.success_threshold:g}) at step {solved_step:,}{when}.")
    elif evaluations:
        lines.append(f"Not solved: no evaluation reached a mean of {run.success_threshold:g}.")
    if n:
        r, s = summary["returns"], summary["success"]
        lines.append(f"Last {min(n, tracker.window)} episodes: mean return {r['last_window_mean']:.1f}, "
                     f"success {100 * s['rate_last_window']:.0f}% (best window mean {r['best_window_mean']:.1f}).")
        trend = summary["trend"]
        if "change" in trend:
            lines.append(f"Trend: {trend['direction']} ({trend['change']:+.1f} mean return against the "
                         f"{trend['compared_episodes']} episodes before).")
    lines += _what_went_wrong(run)
    lines += _when_it_changed(run)
    for change in tracker.hyperparameter_changes:
        text = ", ".join(f"{k} {_fmt(v[0])} -> {_fmt(v[1])}" for k, v in change["changes"].items())
        lines.append(f"At step {change['env_step']:,} hyperparameters changed: {text}.")
    lines += [f"Note: {p}." for p in run.problems]
    return lines


def _what_went_wrong(run: RunData) -> list[str]:
    if run.tracker.episodes == 0:
        return ["No training episodes were recorded yet."]
    stats = run.tracker.behavior_statistics()
    analyzed = stats["analyzed_episodes"]
    if not analyzed:
        return ["No outcomes were recorded (episode analysis was off), so the report cannot say why episodes ended."]
    failures = {k: v for k, v in stats["outcome_totals"].items() if not Outcome(k).landed}
    lines = []
    if failures:
        worst, count = max(failures.items(), key=lambda kv: kv[1])
        lines.append(f"What went wrong most often: {worst}, in {count:,} of {analyzed:,} analyzed episodes "
                     f"({100 * count / analyzed:.0f}%): the lander {WHAT_IT_MEANS[worst]}.")
    else:
        lines.append(f"Every one of the {analyzed:,} analyzed episodes ended in a landing.")
    last = stats["windows"][-1]
    recent = {k: v for k, v in last["outcomes"].items() if not Outcome(k).landed}
    if recent:
        worst, share = max(recent.items(), key=lambda kv: kv[1])
        lines.append(f"In the last window (episodes {last['first_episode']:,}-{last['last_episode']:,}) the most "
                     f"common failure is {worst} ({100 * share:.0f}%).")
    return lines


def _when_it_changed(run: RunData, max_lines: int = 6) -> list[str]:
    """Windows where the most common outcome changed, and the behaviors that changed most."""
    windows = [w for w in run.tracker.behavior_statistics()["windows"] if w["analyzed"]]
    lines = []
    previous = None
    for w in windows:
        top = max(w["outcomes"].items(), key=lambda kv: kv[1])
        if previous is not None and top[0] != previous[0]:
            lines.append(f"Around episode {w['first_episode']:,} (step {w['env_step']:,}) the most common outcome "
                         f"changed from {previous[0]} ({100 * previous[1]:.0f}%) to {top[0]} ({100 * top[1]:.0f}%).")
        previous = top
    if len(lines) > max_lines:
        more = len(lines) - max_lines + 1
        lines = lines[:max_lines - 1] + [f"...and {more} more changes of the most common outcome."]
    if len(windows) >= 2:
        first, last = windows[0]["behaviors"], windows[-1]["behaviors"]
        moves = sorted(((last.get(b.value, 0.0) - first.get(b.value, 0.0), b.value) for b in BEHAVIORS),
                       key=lambda m: -abs(m[0]))
        for delta, name in moves[:3]:
            if abs(delta) >= 0.2:
                lines.append(f"{name}: {100 * first.get(name, 0.0):.0f}% of episodes in the first window, "
                             f"{100 * last.get(name, 0.0):.0f}% in the last.")
    return lines


def summary_tables(run: RunData) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Outcome mix, top behaviors and evaluations as (headers, rows) tables."""
    stats = run.tracker.behavior_statistics()
    tables: dict[str, tuple[list[str], list[list[str]]]] = {}
    windows = [w for w in stats["windows"] if w["analyzed"]]
    analyzed = max(stats["analyzed_episodes"], 1)
    if windows:
        first, last = windows[0], windows[-1]
        rows = [[name, f"{count:,}", f"{100 * count / analyzed:.0f}%", _pct(first["outcomes"].get(name)),
                 _pct(last["outcomes"].get(name))]
                for name, count in sorted(stats["outcome_totals"].items(), key=lambda kv: -kv[1])]
        tables["Outcomes"] = (["outcome", "episodes", "share", "first window", "last window"], rows)
        top = sorted(stats["behavior_totals"].items(), key=lambda kv: -kv[1])[:12]
        rows = [[name, f"{100 * count / analyzed:.0f}%", _pct(first["behaviors"].get(name)),
                 _pct(last["behaviors"].get(name))] for name, count in top]
        tables["Top behaviors"] = (["behavior", "all episodes", "first window", "last window"], rows)
    if run.evaluations:
        rows = [[f"{e['env_step']:,}", f"{e['mean_return']:.1f}", f"{float(e.get('std_return', 0.0)):.1f}",
                 _pct(e.get("success_rate")), _mix(e.get("outcomes"))] for e in run.evaluations[-10:]]
        tables["Evaluations (last 10)"] = (["env step", "mean return", "std", "success", "outcomes"], rows)
    return tables


# ---- the charts ------------------------------------------------------------------------------------------
def figures(run: RunData) -> list[tuple[str, Any]]:
    """(title, plotly Figure) for every chart in the report."""
    charts = [
        ("Learning curve", _learning_curve(run)),
        ("Success rate", _success_rate(run)),
        ("How episodes ended, over training", _outcome_area(run)),
        ("Top behaviors", _top_behaviors(run)),
        ("Losses and Q", _losses(run)),
        ("Evaluations", _evaluations(run)),
    ]
    for _, fig in charts:
        fig.update_layout(height=fig.layout.height or 420, margin=dict(l=60, r=30, t=30, b=50),
                          legend=dict(orientation="h", y=-0.18), template="plotly_white")
    return charts


def _learning_curve(run: RunData) -> Any:
    import plotly.graph_objects as go

    cols = run.tracker.episode_columns()
    fig = go.Figure()
    x, w = cols["env_step"], run.tracker.window
    if len(x) == 0:
        return _empty(fig, "no episodes recorded")
    keep = _thin(len(x))
    raw, shaped = cols["raw_return"], cols["shaped_return"]
    fig.add_scatter(x=x[keep], y=raw[keep], mode="markers", name="raw return", marker=dict(size=3, opacity=0.35))
    fig.add_scatter(x=x[keep], y=moving_average(raw, w)[keep], mode="lines", name=f"raw, mean of last {w}",
                    line=dict(width=2.5))
    same = " (= raw: shaping off)" if np.allclose(raw, shaped) else ""
    fig.add_scatter(x=x[keep], y=moving_average(shaped, w)[keep], mode="lines", line=dict(width=2, dash="dash"),
                    name=f"shaped, mean of last {w}{same}")
    _add_eval_points(fig, run)
    fig.add_hline(y=run.success_threshold, line_dash="dot", line_color="green",
                  annotation_text=f"{run.success_threshold:g}: solved", annotation_position="top left")
    fig.update_layout(xaxis_title="env step", yaxis_title="return")
    return _mark_changes(fig, run)


def _add_eval_points(fig: Any, run: RunData) -> None:
    if run.evaluations:
        fig.add_scatter(x=[e["env_step"] for e in run.evaluations], y=[e["mean_return"] for e in run.evaluations],
                        error_y=dict(array=[float(e.get("std_return", 0.0)) for e in run.evaluations]),
                        mode="markers", name="evaluation (mean, std)", marker=dict(size=8, symbol="diamond"))


def _success_rate(run: RunData) -> Any:
    import plotly.graph_objects as go

    cols = run.tracker.episode_columns()
    fig = go.Figure()
    if len(cols["env_step"]) == 0:
        return _empty(fig, "no episodes recorded")
    keep = _thin(len(cols["env_step"]))
    rate = 100 * moving_average(cols["success"].astype(float), run.tracker.window)
    fig.add_scatter(x=cols["env_step"][keep], y=rate[keep], mode="lines", name=f"training, last {run.tracker.window}")
    if run.evaluations:
        fig.add_scatter(x=[e["env_step"] for e in run.evaluations],
                        y=[100 * float(e.get("success_rate", 0.0)) for e in run.evaluations],
                        mode="markers+lines", name="evaluation", marker=dict(symbol="diamond", size=8))
    fig.update_layout(xaxis_title="env step", yaxis_title="% of episodes at or above the threshold",
                      yaxis_range=[0, 100])
    return _mark_changes(fig, run)


def _outcome_area(run: RunData) -> Any:
    import plotly.graph_objects as go

    counts = run.tracker.window_counts()
    fig = go.Figure()
    analyzed = counts["analyzed"]
    shown = analyzed > 0
    if not shown.any():
        return _empty(fig, "no outcomes recorded (episode analysis was off)")
    x = counts["env_step"][shown]
    share = 100 * counts["outcomes"][shown] / analyzed[shown, None]
    labels = [f"episodes {a:,}-{b:,}" for a, b in zip(counts["first_episode"][shown], counts["last_episode"][shown])]
    for j, outcome in enumerate(OUTCOMES):
        if share[:, j].any():
            fig.add_scatter(x=x, y=share[:, j], name=outcome.value, mode="lines", stackgroup="outcomes",
                            line=dict(width=0.5, color=OUTCOME_COLORS[outcome.value]), text=labels,
                            hovertemplate="%{text}: %{y:.0f}%")
    fig.update_layout(xaxis_title=f"env step (windows of {run.tracker.window} episodes)",
                      yaxis_title="% of episodes", yaxis_range=[0, 100], height=480)
    return _mark_changes(fig, run)


def _top_behaviors(run: RunData) -> Any:
    import plotly.graph_objects as go

    stats = run.tracker.behavior_statistics()
    fig = go.Figure()
    windows = [w for w in stats["windows"] if w["analyzed"]]
    if not windows:
        return _empty(fig, "no behaviors recorded (episode analysis was off)")
    top = sorted(stats["behavior_totals"].items(), key=lambda kv: -kv[1])[:12][::-1]
    names = [name for name, _ in top]
    total = stats["analyzed_episodes"]
    for label, values in (("first window", [windows[0]["behaviors"].get(n, 0.0) for n in names]),
                          ("last window", [windows[-1]["behaviors"].get(n, 0.0) for n in names]),
                          ("all episodes", [c / total for _, c in top])):
        fig.add_bar(y=names, x=[100 * v for v in values], name=label, orientation="h")
    fig.update_layout(barmode="group", xaxis_title="% of episodes", height=max(420, 60 + 45 * len(names)))
    return fig


def _losses(run: RunData) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    updates = run.tracker.update_columns()
    if len(updates["env_step"]) == 0:
        return _empty(go.Figure(), "no learner metrics recorded")
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("critic loss", "actor loss", "mean Q"))
    x = updates["env_step"]
    for row, name in enumerate(("critic_loss", "actor_loss", "mean_q"), start=1):
        fig.add_trace(go.Scatter(x=x, y=updates[name], mode="lines", name=name), row=row, col=1)
    critic = updates["critic_loss"][np.isfinite(updates["critic_loss"])]
    if critic.size and (critic > 0).all():
        fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title_text="env step", row=3, col=1)
    fig.update_layout(height=640, showlegend=False)
    return _mark_changes(fig, run)


def _evaluations(run: RunData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    if not run.evaluations:
        return _empty(fig, "no evaluations recorded")
    _add_eval_points(fig, run)
    fig.add_scatter(x=[e["env_step"] for e in run.evaluations],
                    y=[100 * float(e.get("success_rate", 0.0)) for e in run.evaluations], yaxis="y2",
                    mode="lines+markers", name="success %", line=dict(dash="dot"),
                    text=[_mix(e.get("outcomes")) for e in run.evaluations], hovertemplate="%{y:.0f}%<br>%{text}")
    fig.add_hline(y=run.success_threshold, line_dash="dot", line_color="green")
    fig.update_layout(xaxis_title="env step", yaxis_title="mean return",
                      yaxis2=dict(title="success %", overlaying="y", side="right", range=[0, 100]))
    return _mark_changes(fig, run)


def _mark_changes(fig: Any, run: RunData) -> Any:
    """Dashed vertical lines where hyperparameters changed, labelled with what changed."""
    for change in run.tracker.hyperparameter_changes:
        text = ", ".join(f"{k}={_fmt(v[1])}" for k, v in change["changes"].items())
        fig.add_vline(x=change["env_step"], line_dash="dash", line_color="gray", annotation_text=text,
                      annotation_position="top right", annotation_font_size=10)
    return fig


def _empty(fig: Any, message: str) -> Any:
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=16))
    fig.update_layout(xaxis_visible=False, yaxis_visible=False, height=200)
    return fig


def _thin(n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).astype(int))


# ---- assembling -------------------------------------------------------------------------------------------
_STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .path { color: #666; margin-top: 0; }
section { margin: 2rem 0; } ul.summary li { margin: 0.3rem 0; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; } td, th { border: 1px solid #ddd; padding: 4px 10px; }
th { background: #f4f4f4; text-align: left; } td { text-align: right; } td:first-child { text-align: left; }
"""


def html_page(title: str, subtitle: str, body_parts: list[str], charts: list[tuple[str, Any]],
              kind: OutputKind = REPORT) -> str:
    """A standalone page: plotly.js inlined once, each chart a div, marked as ``kind``. Used by reports and
    comparisons."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    divs = []
    for i, (chart_title, fig) in enumerate(charts):
        height = f"{int(fig.layout.height or 420)}px"
        div = pio.to_html(fig, include_plotlyjs=False, full_html=False, div_id=f"chart-{i}",
                          default_height=height, config={"displaylogo": False, "responsive": True})
        divs.append(f'<section><h2>{html.escape(chart_title)}</h2>{div}</section>')
    return "\n".join([
        "<!DOCTYPE html>", f'<html lang="en"><head><meta charset="utf-8">{kind.html_marker}',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>', "</head><body>",
        f"<h1>{html.escape(title)}</h1><p class=\"path\">{html.escape(subtitle)}</p>",
        *body_parts, *divs, "</body></html>",
    ])


def html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _html_page(run: RunData, lines: list[str], tables: dict[str, Any], charts: list[tuple[str, Any]],
               montage: Path | None = None) -> str:
    summary = "<section><h2>Summary</h2><ul class=\"summary\">" + "".join(
        f"<li>{html.escape(line)}</li>" for line in lines) + "</ul></section>"
    parts = [summary] + _montage_html(montage) + [f"<section><h2>{html.escape(name)}</h2>{html_table(*table)}</section>"
                         for name, table in tables.items()]
    return html_page(f"Lander Lab report: {run.name}", run.where, parts, charts, REPORT)


def _montage_html(montage: Path | None) -> list[str]:
    """The montage inlined as a data URI, so report.html stays one self-contained file."""
    if montage is None:
        return []
    data = base64.b64encode(montage.read_bytes()).decode("ascii")
    return [f'<section><h2>How it learned</h2><p>The deterministic policy on one fixed seed at each evaluation '
            f'(shown in {html.escape(montage.name)}).</p><img id="learning-montage" alt="evaluation clips over '
            f'training" src="data:image/gif;base64,{data}"></section>']


def _markdown(run: RunData, lines: list[str], tables: dict[str, Any], montage: Path | None = None) -> str:
    out = [REPORT.markdown_marker, f"# Lander Lab report: {run.name}", "", f"Run folder: `{run.where}`", "",
           "## Summary", ""]
    out += [f"- {line}" for line in lines]
    if montage is not None:
        out += ["", "## How it learned", "", f"![evaluation clips over training]({montage.name})"]
    for name, table in tables.items():
        out += ["", f"## {name}", "", markdown_table(*table)]
    out += ["", "Charts: see report.html in the same folder.", ""]
    return "\n".join(out)


# ---- formatting ------------------------------------------------------------------------------------------
def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.0f}%"


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _mix(outcomes: Any, top: int = 3) -> str:
    """'LANDED_SOFTLY 6, CRASHED_TILTED 3' from an outcome -> count mapping."""
    if not isinstance(outcomes, dict) or not outcomes:
        return "-"
    items = sorted(outcomes.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{k} {v}" for k, v in items[:top])
    return text + (f", +{len(items) - top} more" if len(items) > top else "")
