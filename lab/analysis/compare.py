"""Compare runs: a table of how far each got, and overlaid curves in one offline HTML page.

Runs of different lengths share the env-step axis. A folder that is missing or
unreadable gets a row saying why, and the other runs are still compared. Runs that
differ only in seed form a group (lab/analysis/seed_groups.py): the page draws the
group's mean curve with a 95% bootstrap band, and a second table gives its statistics
over seeds (IQM with 95% CI, as ``bench time-to-solve`` prints them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lab.analysis.diagnostics import moving_average
from lab.analysis.report import OutputKind, html_page, html_table, markdown_table
from lab.analysis.run_data import RunData, RunFolderError, load_run
from lab.analysis.seed_groups import SeedGroup, group_by_seed, group_statistics, mean_curve
from lab.io import atomic_write_text, quoted, shown

METRICS: dict[str, str] = {
    "eval": "evaluation mean return",
    "return": "training raw return (moving mean)",
    "shaped": "training shaped return (moving mean)",
    "success": "training success % (moving mean)",
    "length": "episode length (moving mean)",
    "critic_loss": "critic loss",
    "actor_loss": "actor loss",
    "mean_q": "mean Q",
}
"""Curves ``compare`` can overlay, by name."""

COMPARISON = OutputKind("comparison", "compare", (b"<title>Lander Lab: run comparison</title>",
                                                b"# Lander Lab: run comparison"))
DEFAULT_PAGE = "compare.html"
"""What --out writes by default, and the page's name inside a folder given as --out."""

COLUMNS = ["run", "status", "episodes", "env steps", "train time", "final eval", "best eval", "solved at step",
           "time to solve", "last-window return", "outcome mix (last window)"]
GROUP_COLUMNS = ["group", "runs", "seeds", "solved", "steps to solve (median)", "steps to solve: IQM [95% CI]",
                 "seconds to solve: IQM [95% CI]", "final eval: IQM [95% CI]"]
GROUP_NOTE = ("Runs that differ only in seed, taken together: interquartile mean (IQM) over seeds with its 95% "
              "bootstrap confidence interval; a seed that never solved counts at the group's step budget and its "
              "longest training time.")


@dataclass
class Comparison:
    """The outcome of comparing runs: one table row per folder, and the loaded runs."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    runs: list[RunData] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    """Folder -> why it could not be read."""
    groups: list[SeedGroup] = field(default_factory=list)
    group_rows: list[dict[str, Any]] = field(default_factory=list)

    def table(self) -> tuple[list[str], list[list[str]]]:
        return COLUMNS, [[_cell(row.get(c)) for c in COLUMNS] for row in self.rows]

    def group_table(self) -> tuple[list[str], list[list[str]]] | None:
        """The seed-group table, or None when no two runs share a configuration."""
        if not any(len(g.runs) > 1 for g in self.groups):
            return None
        return GROUP_COLUMNS, [[_cell(row.get(c)) for c in GROUP_COLUMNS] for row in self.group_rows]

    def markdown(self) -> str:
        groups = self.group_table()
        parts = [markdown_table(*self.table())]
        if groups is not None:
            parts += ["", "Seed groups. " + GROUP_NOTE, "", markdown_table(*groups)]
        return "\n".join(parts)


def compare_runs(run_dirs: list[str | Path], metrics: list[str] | tuple[str, ...] = ("eval", "return"),
                 window: int = 100) -> Comparison:
    """Load each folder (keeping going past bad ones) and tabulate final and best evaluation, solve, outcome mix."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}: allowed {', '.join(METRICS)}")
    if not run_dirs:
        raise ValueError("no run folders given: pass one or more RUN_DIR")
    result = Comparison()
    for run_dir in run_dirs:
        try:
            run = load_run(run_dir, window=window)
            row = _row(run)
        except RunFolderError as exc:
            message = str(exc)
        except Exception as exc:  # noqa: BLE001 - one corrupt folder must not stop the comparison
            message = f"could not read {quoted(run_dir)}: {type(exc).__name__}: {exc}"
        else:
            result.runs.append(run)
            result.rows.append(row)
            continue
        result.errors[shown(run_dir)] = message
        result.rows.append({"run": shown(Path(run_dir).name or run_dir), "status": f"error: {message}"})
    result.groups = group_by_seed(result.runs)
    result.group_rows = [_group_row(group) for group in result.groups]
    return result


def write_comparison(comparison: Comparison, out: str | Path, metrics: list[str] | tuple[str, ...] = ("eval", "return"),
                     ) -> tuple[Path, Path]:
    """Write the overlaid-curves HTML page and a Markdown table beside it (``out`` may name a folder for them).

    Only an earlier comparison is replaced: any other file at either path is refused before anything is written.
    """
    html_path, md_path = comparison_paths(out)
    charts = [(METRICS[m], _overlay(comparison.groups, m)) for m in metrics]
    names = ", ".join(r.name for r in comparison.runs) or "no readable runs"
    notes = "".join(f"<li>{_escape(k)}: {_escape(v)}</li>" for k, v in comparison.errors.items())
    body = [f"<section><h2>Runs</h2>{html_table(*comparison.table())}</section>"]
    groups = comparison.group_table()
    if groups is not None:
        body.append(f"<section><h2>Seed groups</h2><p>{_escape(GROUP_NOTE)}</p>{html_table(*groups)}</section>")
    if notes:
        body.append(f"<section><h2>Could not read</h2><ul>{notes}</ul></section>")
    page = html_page("Lander Lab: run comparison", names, body, charts, COMPARISON)
    markdown = "\n".join([COMPARISON.markdown_marker, "# Lander Lab: run comparison", "", comparison.markdown(), ""])
    return atomic_write_text(html_path, page), atomic_write_text(md_path, markdown)


def comparison_paths(out: str | Path) -> tuple[Path, Path]:
    """The page and the Markdown table beside it, checked: an .html name (or a folder), replacing only an
    earlier comparison."""
    out = Path(out)
    if out.is_dir():
        out = out / DEFAULT_PAGE
    if out.suffix.lower() != ".html":
        raise ValueError(f"--out {quoted(out)} is invalid: allowed a file name ending in .html (the comparison "
                         "page; its .md table goes beside it) or a folder")
    paths = out, out.with_suffix(".md")
    for path in paths:
        COMPARISON.check_replaceable(path)
    return paths


def _row(run: RunData) -> dict[str, Any]:
    summary = run.tracker.summary()
    evaluations = run.evaluations
    solved_step, solved_seconds = run.solved()
    row: dict[str, Any] = {
        "run": run.name, "status": run.final_state or "ok", "episodes": summary["episodes"],
        "env steps": run.env_steps(), "train time": _duration(run.train_seconds()),
        "final eval": evaluations[-1]["mean_return"] if evaluations else None,
        "best eval": max(e["mean_return"] for e in evaluations) if evaluations else None,
        "solved at step": solved_step, "time to solve": _duration(solved_seconds),
        "last-window return": summary.get("returns", {}).get("last_window_mean"),
        "outcome mix (last window)": _mix(summary.get("outcomes", {}).get("last_window")),
    }
    if row["outcome mix (last window)"] is None and evaluations and evaluations[-1].get("outcomes"):
        counts = evaluations[-1]["outcomes"]
        total = sum(counts.values()) or 1
        row["outcome mix (last window)"] = f"eval: {_mix({k: v / total for k, v in counts.items()})}"
    if run.problems:
        row["status"] = f"{row['status']} ({len(run.problems)} warning(s))"
    return row


def _group_row(group: SeedGroup) -> dict[str, Any]:
    figures = group_statistics(group)
    steps = figures.solve_steps
    return {
        "group": group.label, "runs": len(group.runs), "seeds": ", ".join(str(s) for s in group.seeds),
        "solved": f"{figures.solved}/{len(group.runs)}", "steps to solve (median)": None if steps is None
        else f"{steps.median:,.0f}", "steps to solve: IQM [95% CI]": None if steps is None else steps.text(0),
        "seconds to solve: IQM [95% CI]": None if figures.solve_seconds is None else figures.solve_seconds.text(0),
        "final eval: IQM [95% CI]": None if figures.final_eval is None else figures.final_eval.text(1),
    }


def _overlay(groups: list[SeedGroup], metric: str) -> Any:
    """One line per lone run; per seed group, faint seed lines under the mean and its 95% bootstrap band."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    fig = go.Figure()
    mode = "lines+markers" if metric == "eval" else "lines"
    for index, group in enumerate(groups):
        color = qualitative.Plotly[index % len(qualitative.Plotly)]
        series = [(run.name, *_series(run, metric)) for run in group.runs]
        series = [(name, x, y) for name, x, y in series if len(x)]
        if len(series) == 1:
            fig.add_scatter(x=series[0][1], y=series[0][2], name=series[0][0], mode=mode, line=dict(color=color))
        if len(series) < 2:
            continue
        for name, x, y in series:
            fig.add_scatter(x=x, y=y, name=name, mode="lines", line=dict(color=color, width=1), opacity=0.3,
                            legendgroup=group.label, showlegend=False)
        x, mean, low, high = mean_curve([(x, y) for _, x, y in series], exact_steps=metric == "eval")
        band = ~np.isnan(low)
        fig.add_scatter(x=x[band], y=high[band], mode="lines", line=dict(width=0, color=color), hoverinfo="skip",
                        legendgroup=group.label, showlegend=False)
        fig.add_scatter(x=x[band], y=low[band], mode="lines", line=dict(width=0, color=color), fill="tonexty",
                        fillcolor=_translucent(color), hoverinfo="skip", legendgroup=group.label, showlegend=False)
        fig.add_scatter(x=x, y=mean, name=f"{group.label} (mean of {len(series)} seeds, 95% CI band)", mode=mode,
                        line=dict(color=color, width=2.5), legendgroup=group.label)
    if not fig.data:
        fig.add_annotation(text=f"no run has {METRICS[metric]} data", showarrow=False, x=0.5, y=0.5,
                           xref="paper", yref="paper")
    elif metric in ("eval", "return", "shaped") and groups:
        fig.add_hline(y=groups[0].runs[0].success_threshold, line_dash="dot", line_color="green")
    fig.update_layout(xaxis_title="env step", yaxis_title=METRICS[metric], height=440, margin=dict(t=30),
                      template="plotly_white", legend=dict(orientation="h", y=-0.2))
    return fig


def _translucent(hex_color: str, alpha: float = 0.2) -> str:
    red, green, blue = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _series(run: RunData, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """x (env steps) and y of one metric for one run, thinned to a few thousand points."""
    if metric == "eval":
        rows = run.evaluations
        return np.array([r["env_step"] for r in rows]), np.array([r["mean_return"] for r in rows], dtype=float)
    if metric in ("critic_loss", "actor_loss", "mean_q"):
        updates = run.tracker.update_columns()
        return updates["env_step"], updates[metric]
    cols = run.tracker.episode_columns()
    source = {"return": "raw_return", "shaped": "shaped_return", "success": "success", "length": "length"}[metric]
    y = moving_average(cols[source].astype(float), run.tracker.window) * (100 if metric == "success" else 1)
    keep = np.unique(np.linspace(0, len(y) - 1, min(len(y), 4000)).astype(int)) if len(y) else np.zeros(0, int)
    return cols["env_step"][keep], y[keep]


def _mix(shares: dict[str, float] | None, top: int = 3) -> str | None:
    if not shares:
        return None
    items = sorted(shares.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{k} {100 * v:.0f}%" for k, v in items)


def _duration(seconds: float | None) -> str | None:
    if seconds is None or not math.isfinite(seconds):
        return None
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _escape(text: str) -> str:
    import html

    return html.escape(text)
