"""What the results records say, as Markdown tables and one-line expectations.

The README's presets table, the docs' performance page and ``python -m lab presets`` all read the records
through here, so a figure is worded once and always comes from the newest record.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from lab.bench.record import REPORT_SEEDS, Record, is_report_check, newest


def purpose(preset_name: str) -> str:
    """What a preset is for: its docstring's first line."""
    from lab.presets import PRESETS

    doc = inspect.getdoc(PRESETS[preset_name]) or ""
    return doc.splitlines()[0].strip().replace("``", "`") if doc else ""  # reST code marks, as Markdown


def report_check(records: Iterable[Record], preset_name: str) -> Record | None:
    """The newest time-to-solve of the preset on the report seeds."""
    return newest(records, "time-to-solve", preset_name, where=is_report_check)


def expectation(record: Record | None) -> str:
    """'lands 10 of 10 report seeds, median 35,000 env steps and 94 s' from a report check."""
    if record is None:
        return "no report-seed measurement recorded yet"
    summary = record.results["summary"]
    seconds = summary["train_seconds"]["median"]
    return (f"lands {summary['solved']} of {summary['seeds']} report seeds within {summary['step_cap']:,.0f} "
            f"steps, median {summary['env_steps']['median']:,.0f} env steps and {seconds:,.0f} s")


def provenance(record: Record) -> str:
    return f"{record.day}, commit {record.short_commit}"


def markdown_table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def presets_table(records: list[Record]) -> str:
    """One row per preset: what it is for, how many report seeds it lands, median env steps and seconds."""
    from lab.presets import preset_names

    rows = []
    for name in preset_names():
        record = report_check(records, name)
        if record is None:
            landed = steps = seconds = "—"
            measured = "not measured"
        else:
            summary = record.results["summary"]
            landed = f"{summary['solved']} of {summary['seeds']}"
            steps = f"{summary['env_steps']['median']:,.0f}"
            seconds = f"{summary['train_seconds']['median']:,.0f}"
            measured = provenance(record)
        rows.append([f"`{name}`", purpose(name), landed, steps, seconds, measured])
    seeds = f"{REPORT_SEEDS[0]}–{REPORT_SEEDS[-1]}"
    return markdown_table(["preset", "what it is for", f"lands (report seeds {seeds})", "median env steps",
                           "median seconds", "measured"], rows)


def pretrained_line(records: list[Record]) -> str:
    """The pretrained agent's held-out score, as the README quotes it."""
    record = newest(records, "eval")
    if record is None:
        return "The pretrained agent's evaluation is not recorded yet."
    r = record.results
    return (f"The pretrained agent scores **{r['mean_return']:.0f} ± {r['std_return']:.0f}** over "
            f"{len(r['seeds'])} held-out episodes ({100 * r['success_rate']:.0f}% land; {provenance(record)}).")


# ---- the performance page: one table per kind of measurement, newest first --------------------
def _common(record: Record) -> list[str]:
    machine = record.machine
    text = f"{machine['cpu']}, {machine['cores']} cores, GPU: {machine['gpu']}; Python {machine['python']}, " \
           f"torch {machine['torch']}"
    return [f"`{record.command}`", text, record.day, f"`{record.short_commit}`"]


def _time_to_solve_row(record: Record) -> list[str]:
    r = record.results
    s = r["summary"]
    seeds = [row["seed"] for row in r["seeds"]]
    steps, secs = s["env_steps"], s["train_seconds"]
    ci = "" if steps["ci_low"] is None else f" [{steps['ci_low']:,.0f}, {steps['ci_high']:,.0f}]"
    return [f"`{record.preset or r.get('preset', '?')}`", _seed_text(seeds),
            f"{s['solved']} / {s['seeds']}", f"{steps['median']:,.0f}", f"{steps['iqm']:,.0f}{ci}",
            f"{secs['median']:,.1f}", *_common(record)]


def _population_row(record: Record) -> list[str]:
    r = record.results
    parts = []
    if r.get("rows"):
        by_threads: dict[int, list[str]] = {}
        for row in r["rows"]:
            by_threads.setdefault(row["threads"], []).append(f"{row['agents']}: {row['vs_trainer']:.2f}×")
        rates = "; ".join(f"{threads} thread{'s' if threads > 1 else ''}: " + ", ".join(ratios)
                          for threads, ratios in by_threads.items())
        if r.get("trainer_steps_per_s"):
            rates = f"one Trainer {r['trainer_steps_per_s']:,.0f} env steps/s; agents vs it, {rates}"
        if "overlap" in r:
            rates += ", envs in an env worker" if r["overlap"] else ", envs in process"
        if r.get("rounds", 1) > 1:
            rates += f" (medians of {r['rounds']} alternating rounds)"
        parts.append(rates)
        bounds = [f"{row['agents']}: {row['update_bound']:.2f}×" for row in r["rows"]
                  if "update_bound" in row and row["agents"] > 1]
        if bounds:
            parts.append("update bound (what batching gives the update alone) " + ", ".join(bounds))
    if r.get("memory"):
        m = r["memory"]
        parts.append(f"{m['agents']} agents with full replay buffers: {m['total_mib']:,.0f} MiB resident "
                     f"({m['main_mib']:,.0f} trainer + {m['env_worker_mib']:,.0f} env worker; replay "
                     f"{m['replay_mib']:,.0f})")
    return ["; ".join(parts), *_common(record)]


def _throughput_row(record: Record) -> list[str]:
    r = record.results
    sb3 = "—" if r.get("speedup_vs_sb3") is None else f"{r['speedup_vs_sb3']:.2f}×"
    return [f"{r['hidden']}", r["precision"], str(r["threads"]), f"{r['bare_updates_per_s']:,.0f}",
            f"{r['train_steps_per_s']:,.1f}", f"{100 * r['efficiency']:.1f}%", sb3, *_common(record)]


def _overlap_row(record: Record) -> list[str]:
    r = record.results
    return [f"{r['median_sync']:,.0f}", f"{r['median_overlap']:,.0f}", f"{r['median_ratio']:.2f}×",
            *_common(record)]


def _eval_row(record: Record) -> list[str]:
    r = record.results
    seeds = r.get("seeds") or []
    return [str(len(seeds)), _seed_text(seeds), f"{r['mean_return']:.1f}", f"{r['std_return']:.1f}",
            f"{100 * r['success_rate']:.0f}%", *_common(record)]


def notebook_outcomes(record: Record) -> list[str]:
    """What a notebook run said its agents did; tab-separated table lines, which runs saved before
    scripts/notebook_in_browser.py skipped them may hold, are not outcomes."""
    return [line for line in record.results.get("outcomes") or [] if "\t" not in line]


def _notebook_row(record: Record) -> list[str]:
    r = record.results
    said = "; ".join(notebook_outcomes(record)) or "—"
    return [f"`{r['notebook']}`", f"{r['seconds'] / 60:.1f} min", said, "none" if not r.get("errors") else
            f"{r['errors']} traceback(s)", *_common(record)]


COMMON = ["command", "machine", "date", "commit"]
KINDS: dict[str, tuple[str, list[str], Callable[[Record], list[str]]]] = {
    "time-to-solve": ("Time to solve (deterministic 10-episode evaluation mean first ≥ 200)",
                      ["preset", "seeds", "solved", "median env steps", "IQM env steps [95% CI]",
                       "median training s"], _time_to_solve_row),
    "eval": ("Evaluations", ["episodes", "seeds", "mean return", "std", "landed"], _eval_row),
    "population": ("Populations (K agents trained at once against one Trainer)", ["result"], _population_row),
    "throughput": ("Throughput (against Stable-Baselines3's TD3 where measured)",
                   ["hidden", "precision", "threads", "bare updates/s", "training env steps/s", "efficiency",
                    "vs SB3"], _throughput_row),
    "notebook": ("Tutorials at full budget (Run All Cells in JupyterLab, headless Chromium)",
                 ["notebook", "run time", "what its agents did", "errors"], _notebook_row),
    "overlap": ("The second core for one run (run.overlap_collection)",
                ["synchronous env steps/s", "overlapped", "ratio (median of rounds)"], _overlap_row),
}


def performance_tables(records: list[Record]) -> str:
    """Every record, one table per kind, newest first; kinds without a layout of their own get a generic one."""
    sections = []
    kinds = list(KINDS) + sorted({r.kind for r in records} - set(KINDS))
    for kind in kinds:
        chosen = sorted((r for r in records if r.kind == kind), key=lambda r: r.date, reverse=True)
        if not chosen:
            continue
        title, header, row = KINDS.get(kind, (f"`bench {kind}`", ["result"], _generic_row))
        sections.append(f"## {title}\n\n" + markdown_table(header + COMMON, (row(r) for r in chosen)))
        notes = [f"- {r.day}, `{r.short_commit}`: {r.note}" for r in chosen if r.note]
        if notes:
            sections.append("Notes:\n\n" + "\n".join(notes))
    return "\n\n".join(sections) if sections else "No measurements are recorded yet."


def _generic_row(record: Record) -> list[str]:
    import json

    text = json.dumps(record.results)
    return [f"`{text[:200]}{'…' if len(text) > 200 else ''}`", *_common(record)]


def _seed_text(seeds: list[Any]) -> str:
    if not seeds:
        return "—"
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))) and len(seeds) > 2:
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))
