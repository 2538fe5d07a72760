"""MkDocs hooks: the pages that are generated from the code and the data at every build, never by hand.

- reference/configuration.md from lab/config.py's fields (docstring, default, what is allowed, live or restart),
- reference/cli.md from ``lab.cli.build_parser()`` (every command, subcommand and option with its help),
- reference/api.md from the public names in ``lab.__init__`` and ``widgets.__init__`` (the one place that says
  which module defines each name, so the API pages follow a module when it moves),
- reference/presets.md from lab/presets.py and the newest results records,
- performance.md from benchmarks/results/,
- notebooks/: the tutorials (rendered by mkdocs-jupyter, never executed) and tutorials/index.md,
- experiments/index.md from the experiment pages' front matter.

mkdocs.yml names this file under ``hooks:``; tests/test_docs.py calls the generators directly.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path[:1] != [str(ROOT)]:  # mkdocs loads this file by path: this checkout's lab/ comes first
    sys.path.insert(0, str(ROOT))
import lab  # noqa: E402,F401 - bound now: mkdocs puts sys.path back once this file is loaded
import widgets  # noqa: E402,F401
from lab.config import attribute_docstrings  # noqa: E402

API_NAMES = {
    "lab": ["Trainer", "Population", "load_policy", "evaluate", "Config", "preset", "export_gif", "watch"],
    "widgets": ["TrainingPanel"],
}
"""The names the API page documents; the module of each is read from its package's lazy-export table."""
LIVE = {None: "restart", "agent": "live, per agent", "shared": "live, all agents"}
"""How a field's ``live`` metadata reads in the configuration reference."""
GENERATED = "<!-- generated at build time by scripts/docs_hooks.py: edit the code or the data, not this page -->"


# ---- configuration reference ------------------------------------------------------------------
def _shown(value: Any) -> str:
    """A default as one would write it in an override (training.actor_lr=0.001, network.actor_hidden=[64,64])."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def config_reference(sections: dict[str, type] | None = None) -> str:
    """Every config field, section by section, from the dataclasses, their bounds and attribute docstrings."""
    if sections is None:
        from lab.config import SECTIONS as sections

    every = [f for cls in sections.values() for f in dataclasses.fields(cls)]
    with_live = any("live" in f.metadata for f in every)
    lines = [GENERATED, "# Configuration reference", "",
             "Every setting of a run, read from `lab/config.py` when the site is built. Set one on the command line "
             "as a dotted override (`python -m lab train training.actor_lr=3e-4`), in a YAML or JSON config file "
             "(`--config FILE`), or from Python (`lab.preset(\"guided\").with_overrides({\"training.actor_lr\": "
             "3e-4})`). A bad value is refused with one line naming the field, the value and what is allowed."]
    if with_live:
        lines += ["", "**When** says when a change applies: *live, per agent* (at the next update of a running "
                      "run, for one agent of a population or all), *live, all agents* (at the next update, for every "
                      "agent at once) or *restart* (the next run)."]
    for section, cls in sections.items():
        docs = attribute_docstrings(cls)
        lines += ["", f"## `{section}`", "", _cell(cls.__dict__.get("__doc__") or "")]
        header = ["field", "default", "allowed", *(["when"] if with_live else []), "what it does"]
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            bounds = f.metadata.get("bounds")
            allowed = bounds.allowed() if bounds is not None else ""
            when = [LIVE.get(f.metadata.get("live"), str(f.metadata.get("live")))] if with_live else []
            lines.append("| " + " | ".join([f"`{section}.{f.name}`", f"`{_shown(default)}`", _cell(allowed), *when,
                                             _cell(docs.get(f.name, ""))]) + " |")
    return "\n".join(lines) + "\n"


# ---- CLI reference ----------------------------------------------------------------------------
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """name -> (its parser, its one-line help) for each subcommand of parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            return {name: (sub, helps.get(name, "")) for name, sub in action.choices.items()}
    return {}


def _arguments_table(parser: argparse.ArgumentParser) -> list[str]:
    formatter = parser._get_formatter()
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.help == argparse.SUPPRESS:
            continue
        invocation = formatter._format_action_invocation(action)
        rows.append(f"| `{invocation}` | {_cell(formatter._expand_help(action)) if action.help else ''} |")
    if not rows:
        return []
    return ["", "| argument | what it does |", "|---|---|", *rows]


def _command_section(name: str, parser: argparse.ArgumentParser, level: int, summary: str = "") -> list[str]:
    lines = ["", f"{'#' * level} `{name}`", "", _cell(parser.description or summary), "",
             "```text", parser.format_usage().strip(), "```"]
    lines += _arguments_table(parser)
    for sub_name, (sub, help_text) in _subparsers(parser).items():
        lines += _command_section(f"{name} {sub_name}", sub, level + 1, help_text)
    return lines


def cli_reference() -> str:
    """Every command and option of ``python -m lab``, from the argument parsers themselves."""
    from lab.cli import build_parser

    parser = build_parser()
    lines = [GENERATED, "# Command-line reference", "",
             "Every command of `python -m lab` (also installed as `lander-lab`), read from its argument parser when "
             "the site is built; `python -m lab COMMAND --help` prints the same. A bad input prints one line, "
             "`error: ...`, and exits 2; a failure of the work itself exits 1; `--debug` (or `LAB_DEBUG=1`) shows "
             "the traceback instead.", "", "```text", parser.format_help().strip(), "```"]
    for name, (sub, help_text) in _subparsers(parser).items():
        lines += _command_section(f"python -m lab {name}", sub, 2, help_text)
    return "\n".join(lines) + "\n"


# ---- Python API -------------------------------------------------------------------------------
def api_targets() -> list[tuple[str, str]]:
    """(public name, the dotted path mkdocstrings documents) for every name on the API page."""
    import importlib

    targets = []
    for package, names in API_NAMES.items():
        exports = importlib.import_module(package)._EXPORTS  # type: ignore[attr-defined]
        for name in names:
            if name not in exports:
                raise KeyError(f"{package}.{name} is on the API page but not in {package}._EXPORTS")
            targets.append((f"{package}.{name}", f"{exports[name]}.{name}"))
    return targets


def api_reference() -> str:
    lines = [GENERATED, "# Python API", "",
             "The public names, documented from their docstrings. Import them from the package "
             "(`import lab; lab.Trainer(...)`), not from the module that defines them today: modules move, the "
             "package's names stay.", ""]
    lines += [f"- [`{public}`](#{path})" for public, path in api_targets()]
    for public, path in api_targets():
        lines += ["", f"::: {path}", "    options:", "      show_root_heading: true",
                  "      show_root_full_path: false", f"      heading: {public}"]
    return "\n".join(lines) + "\n"


# ---- presets and performance, from lab/presets.py and benchmarks/results/ -----------------------
def presets_reference() -> str:
    import inspect

    from lab.bench.record import load_all
    from lab.bench.tables import expectation, presets_table, provenance, report_check
    from lab.config import Config
    from lab.presets import FIRST_RUN_PRESET, PRESETS, preset

    records = load_all()
    defaults = _flat(Config().to_dict())
    lines = [GENERATED, "# Presets", "",
             f"A preset is a named config. Start from `{FIRST_RUN_PRESET}` (the quickstart's, the panel's and "
             "`train`'s default). The figures come from the newest time-to-solve record of each preset on the "
             "report seeds 0–9 ([performance](../performance.md)); `python -m lab presets` prints the same.", "",
             presets_table(records)]
    for name, make in PRESETS.items():
        record = report_check(records, name)
        changed = {k: v for k, v in _flat(preset(name).to_dict()).items() if defaults.get(k) != v}
        lines += ["", f"## `{name}`", "", (inspect.getdoc(make) or "").replace("``", "`"), "",
                  f"**Expect:** {expectation(record)}" + (f" ({provenance(record)})." if record else "."), "",
                  "It differs from the defaults in:", "", "| field | value |", "|---|---|"]
        lines += [f"| `{k}` | `{_shown(v)}` |" for k, v in changed.items()]
    return "\n".join(lines) + "\n"


def _flat(nested: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {f"{section}.{name}": value for section, values in nested.items() for name, value in values.items()}


def performance_page() -> str:
    from lab.bench.record import load_all
    from lab.bench.tables import performance_tables

    return "\n".join([GENERATED, PERFORMANCE_INTRO, "", performance_tables(load_all())]) + "\n"


PERFORMANCE_INTRO = """# Performance

Every figure on this page is read from a file under `benchmarks/results/` when the site is built: one JSON file
per measurement, with the exact command, the machine, the date and the commit that produced it
([format](development.md#results-as-data)). A new measurement is one command:
`python -m lab bench time-to-solve --preset guided --seeds 0-9 --parallel 2 --max-steps 100000 --save`.

How to read them:

- **Env steps** to a landing do not depend on the machine; **seconds** do, and the project's shared 2-core
  machines swing by ±30% from minute to minute. Compare seconds within one table, env steps across tables.
- **Solved** means the lab's own bar: a deterministic evaluation of 10 episodes on fixed seeds whose mean return
  reaches 200, checked every 5,000 env steps ([the task](task.md#what-solved-means-here)). An unsolved seed counts
  at the cap in the median and the IQM.
- Statistics over seeds follow Agarwal et al. 2021: the median, the interquartile mean (IQM) and a 95%
  stratified-bootstrap confidence interval.
- The same config and seed give the same run on one kind of CPU, not on every kind: after thousands of updates a
  last-bit difference in a floating-point kernel is a different run.
- Records marked *reconstructed* were written from the README's tables of their day; what those tables did not
  quote is `null` in the file."""


# ---- tutorials and experiments ----------------------------------------------------------------
def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def notebook_title(path: Path) -> str:
    """The notebook's first Markdown heading, else its file name."""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def notebook_summary(path: Path) -> str:
    """The first paragraph after the notebook's title."""
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            paragraphs = [p.strip() for p in "".join(cell["source"]).split("\n\n") if p.strip()]
            body = [p for p in paragraphs if not p.startswith("#")]
            return " ".join(body[0].split()) if body else ""
    return ""


def tutorials_index() -> str:
    lines = [GENERATED, "# Tutorials", "",
             "The notebooks in `notebooks/`, shown here without their outputs (they are never run when the site "
             "is built). Run them in JupyterLab: `bash bootstrap.sh start` opens the quickstart; `LAB_SMOKE=1` "
             "shrinks every budget to seconds.", "", "| notebook | what it teaches |", "|---|---|"]
    lines += [f"| [{notebook_title(p)}](../notebooks/{p.name}) | {_cell(notebook_summary(p))} |" for p in notebooks()]
    return "\n".join(lines + tutorial_runs()) + "\n"


def tutorial_runs() -> list[str]:
    """Each notebook's newest full-budget run in a real browser (scripts/notebook_in_browser.py --save), with its
    screenshots: what a reader will see, how long it took and what the agents did, read from the records."""
    from lab.bench.record import load_all
    from lab.bench.tables import notebook_outcomes

    newest: dict[str, Any] = {}
    for record in sorted((r for r in load_all() if r.kind == "notebook"), key=lambda r: r.date):
        newest[record.results["notebook"]] = record
    if not newest:
        return []
    lines = ["", "## What a full run looks like", "",
             "Each notebook run top to bottom at its full budget with Run All Cells, in JupyterLab in headless "
             "Chromium, alone on a 2-core machine (`PYTHONPATH=. python scripts/notebook_in_browser.py NOTEBOOK "
             "--save`). Your times and landings will differ a little: another CPU is another run.", ""]
    for name, record in sorted(newest.items()):
        r = record.results
        lines += [f"### `{name}`", "", f"{r['seconds'] / 60:.1f} minutes on {record.machine['cpu']} "
                  f"({record.machine['cores']} cores), {record.day}, commit `{record.short_commit}`."]
        lines += [""] + [f"- it said: *{_cell(line)}*" for line in notebook_outcomes(record)]
        for shot in r.get("screenshots", []):
            if shot.startswith("docs/"):
                lines += ["", f"![{name}: {Path(shot).stem.replace('_', ' ')}](../{shot.removeprefix('docs/')})"]
        lines.append("")
    return lines


def experiment_pages() -> list[tuple[Path, dict[str, Any]]]:
    """(page, its front matter) for each experiment, newest first."""
    from mkdocs.utils.meta import get_data

    pages = []
    for path in sorted((ROOT / "docs" / "experiments").glob("*.md")):
        if path.name == "index.md":
            continue
        _, meta = get_data(path.read_text(encoding="utf-8"))
        missing = {"date", "title", "lever", "seeds", "verdict", "rerun"} - set(meta)
        if missing:
            raise ValueError(f"{path}: front matter lacks {', '.join(sorted(missing))}")
        pages.append((path, meta))
    return sorted(pages, key=lambda item: (str(item[1]["date"]), item[0].name), reverse=True)


def experiments_index() -> str:
    intro = (ROOT / "docs" / "experiments" / "index.md").read_text(encoding="utf-8")
    rows = [f"| {meta['date']} | [{meta['title']}]({path.name}) | {_cell(str(meta['lever']))} | "
            f"{_cell(str(meta.get('seeds', '')))} | {_cell(str(meta['verdict']))} | `{meta['rerun']}` |"
            for path, meta in experiment_pages()]
    return "\n".join([intro.strip(), "", "| date | screen | lever | seeds | verdict | re-run at |",
                      "|---|---|---|---|---|---|", *rows]) + "\n"


# ---- the hooks --------------------------------------------------------------------------------
PAGES = {
    "reference/configuration.md": config_reference,
    "reference/cli.md": cli_reference,
    "reference/api.md": api_reference,
    "reference/presets.md": presets_reference,
    "performance.md": performance_page,
    "tutorials/index.md": tutorials_index,
}


def on_config(config: Any) -> Any:
    """Fill the nav's Tutorials section from the notebooks that exist (the experiments are listed by their index)."""
    tutorials = [{"Overview": "tutorials/index.md"}] + [{notebook_title(p): f"notebooks/{p.name}"}
                                                          for p in notebooks()]
    for entry in config["nav"]:
        if isinstance(entry, dict) and "Tutorials" in entry:
            entry["Tutorials"] = tutorials
    return config


def _on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for uri, make in PAGES.items():
        files.append(File.generated(config, uri, content=make()))
    index = files.get_file_from_path("experiments/index.md")
    if index is not None:
        files.remove(index)
    files.append(File.generated(config, "experiments/index.md", content=experiments_index()))
    for path in sorted((ROOT / "assets").glob("*")):  # the README's images, served from where they are
        if path.suffix in (".gif", ".png"):
            files.append(File(f"assets/{path.name}", src_dir=str(ROOT), dest_dir=config["site_dir"],
                              use_directory_urls=config["use_directory_urls"]))
    for path in notebooks():  # served at notebooks/NAME/, read where they are
        files.append(File(f"notebooks/{path.name}", src_dir=str(ROOT), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files


try:  # before mkdocs-jupyter's on_files, which turns the notebooks added here into pages
    from mkdocs.plugins import event_priority

    on_files = event_priority(100)(_on_files)
except ImportError:  # the generators stay importable without MkDocs
    on_files = _on_files

