"""The front door and the docs site: generated pages that cannot drift from the code, the data or each other."""

import argparse
import dataclasses
import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab.cli import COMMANDS, build_parser
from lab.config import SECTIONS, integer
from lab.presets import preset_names

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _load("docs_hooks")
readme = _load("update_readme")


def _dotted_fields() -> list[str]:
    return [f"{section}.{f.name}" for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def _commands(parser: argparse.ArgumentParser, prefix: str = "python -m lab") -> list[tuple[str, object]]:
    """Every command and subcommand, with its parser."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((f"{prefix} {name}", sub))
                found += _commands(sub, f"{prefix} {name}")
    return found


# ---- generated references -------------------------------------------------------------------------
def test_the_configuration_reference_has_every_field_with_its_default_bounds_and_docstring():
    from lab.config import Config, bounds_of

    page = hooks.config_reference()
    rows = {line.split("|")[1].strip().strip("`"): line for line in page.splitlines() if line.startswith("| `")}
    assert sorted(rows) == sorted(_dotted_fields())
    assert rows["training.actor_lr"].startswith("| `training.actor_lr` | `0.001` | a number in (0.0, 1.0] |")
    assert "Adam learning rate of the actor." in rows["training.actor_lr"]
    assert bounds_of("noise.kind").allowed() in rows["noise.kind"]
    assert f"`[{', '.join(map(str, Config().network.actor_hidden))}]`" in rows["network.actor_hidden"]
    has_live = any("live" in f.metadata for cls in SECTIONS.values() for f in dataclasses.fields(cls))
    assert ("| when |" in page) == has_live  # the column appears once the fields carry live metadata


def test_the_live_column_appears_when_fields_carry_live_metadata():
    @dataclasses.dataclass(frozen=True)
    class Demo:
        """A section for this test."""

        per_agent: int = dataclasses.field(default=1, metadata={"bounds": integer(1, 0, 9).metadata["bounds"],
                                                                 "live": "agent"})
        """Changes for one agent at a time."""
        everyone: int = dataclasses.field(default=2, metadata={"live": "shared"})
        """Changes for all agents at once."""
        fixed: int = dataclasses.field(default=3, metadata={"live": None})
        """Needs a new run."""

    page = hooks.config_reference({"demo": Demo})
    assert "| field | default | allowed | when | what it does |" in page
    assert ("| `demo.per_agent` | `1` | an integer in [0, 9] | live, per agent | Changes for one agent at a time. |"
            in page)
    assert "| `demo.everyone` | `2` |  | live, all agents |" in page
    assert "| `demo.fixed` | `3` |  | restart | Needs a new run. |" in page


def test_the_cli_reference_has_every_command_and_option_with_its_help():
    page = hooks.cli_reference()
    commands = _commands(build_parser())
    assert {name.split()[3] for name in (c for c, _ in commands)} >= set(COMMANDS)
    for command, parser in commands:
        assert f"`{command}`" in page, command
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):  # every command has -h; the page says so once
                continue
            for option in action.option_strings:
                assert f"`{option}" in page or f", {option}" in page, (command, option)
    assert "time-to-solve" in page and "--save-dir" in page and "python -m lab presets" in page


def test_the_api_page_names_modules_through_the_packages_export_tables():
    targets = dict(hooks.api_targets())
    assert set(targets) == {"lab.Trainer", "lab.Population", "lab.load_policy", "lab.evaluate", "lab.Config",
                            "lab.preset", "lab.export_gif", "lab.watch", "widgets.TrainingPanel"}
    for public, path in targets.items():
        module, _, name = path.rpartition(".")
        package, _, short = public.partition(".")
        assert getattr(importlib.import_module(module), name) is getattr(importlib.import_module(package), short)
    page = hooks.api_reference()
    assert all(f"::: {path}" in page for path in targets.values())


def test_the_presets_page_and_the_tutorials_index_cover_what_exists():
    page = hooks.presets_reference()
    for name in preset_names():
        assert f"## `{name}`" in page
    index = hooks.tutorials_index()
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert f"(../notebooks/{notebook.name})" in index


def test_the_tutorials_page_shows_each_notebooks_newest_full_run_from_its_record(monkeypatch):
    from lab.bench import record
    from lab.bench.tables import performance_tables

    def run(day: str, seconds: float, said: list[str]) -> record.Record:
        return record.Record(kind="notebook", command="python scripts/notebook_in_browser.py 04 --save",
                             date=f"2026-12-{day}T10:00:00+00:00", commit="abcdef1", machine={
                                 "cpu": "AMD EPYC", "cores": 2, "gpu": "none", "python": "3.11", "torch": "2"},
                             results={"notebook": "04_td3_explained", "seconds": seconds, "outcomes": said,
                                      "errors": 0, "stderr": [], "screenshots": ["docs/img/value_map.png",
                                                                                 "/tmp/elsewhere.png"]})
    records = [run("05", 300.0, ["old line"]), run("06", 126.0, ["your agent landed at 25,000 env steps",
                                                                  "run\tstatus\tsolved at step"])]
    monkeypatch.setattr(record, "load_all", lambda *a, **k: records)
    page = "\n".join(hooks.tutorial_runs())
    assert "2.1 minutes on AMD EPYC (2 cores), 2026-12-06" in page and "old line" not in page
    assert "*your agent landed at 25,000 env steps*" in page and "status" not in page  # table headers skipped
    assert "](../img/value_map.png)" in page and "elsewhere" not in page  # only images the site serves
    assert "| `04_td3_explained` | 2.1 min | your agent landed at 25,000 env steps | none |" in \
        performance_tables(records)


def test_every_experiment_page_has_its_front_matter_and_a_row_in_the_index():
    pages = hooks.experiment_pages()
    assert len(pages) >= 15
    index = hooks.experiments_index()
    for path, meta in pages:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(meta["date"])), path.name
        assert path.name.startswith(str(meta["date"])), path.name
        assert f"]({path.name})" in index
        assert re.fullmatch(r"[0-9a-f]{7}|levers-2026-12", str(meta["rerun"])), path.name
        if "(retired)" in str(meta["lever"]):  # a retired lever is re-run at the tag that still has it
            assert "levers-2026-12" in path.read_text().split("---", 2)[2], path.name


# ---- the README -----------------------------------------------------------------------------------
def test_the_readme_is_a_short_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    for phrase in ("this round", "last round", "issue ", "other core", "lander-lab[postgres]"):
        assert phrase not in text.lower(), phrase
    assert "bash bootstrap.sh start" in text and "bash bootstrap.sh test" in text
    assert "pip install -e '.[dev]'" in text and "postgres" in text
    assert "bash bootstrap.sh test" in (ROOT / ".ci" / "run").read_text()  # CI runs the README's test command


def test_the_readme_blocks_match_the_data_they_show():
    text = (ROOT / "README.md").read_text()
    assert readme.stale_blocks(text) == [], "run python scripts/update_readme.py"


def test_a_stale_presets_table_is_caught():
    text = (ROOT / "README.md").read_text()
    changed = text.replace("| 10 of 10 |", "| 9 of 10 |", 1)
    assert changed != text and readme.stale_blocks(changed) == ["presets"]
    with pytest.raises(ValueError, match="presets:start"):
        readme.render(text.replace("<!-- presets:start -->", ""))


# ---- the built site -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site run_tests.sh just built (LAB_BUILT_SITE), else one built here, --strict."""
    built = os.environ.get("LAB_BUILT_SITE")
    if built and (Path(built) / "index.html").exists():
        return Path(built)
    out = tmp_path_factory.mktemp("site")
    mkdocs = Path(sys.executable).parent / "mkdocs"
    subprocess.run([str(mkdocs), "build", "--strict", "--quiet", "--site-dir", str(out)], cwd=ROOT, check=True,
                   env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    return out


@pytest.mark.slow
def test_the_built_site_has_every_config_field_command_and_page(site):
    import html

    config = html.unescape((site / "reference" / "configuration" / "index.html").read_text())
    missing = [name for name in _dotted_fields() if name not in config]
    assert missing == [], f"config fields missing from the built site: {missing}"
    cli = html.unescape((site / "reference" / "cli" / "index.html").read_text())
    missing = [name for name, _ in _commands(build_parser()) if name not in cli]
    assert missing == [], f"commands missing from the built site: {missing}"
    api = (site / "reference" / "api" / "index.html").read_text()
    assert all(f'id="{path}"' in api for _, path in hooks.api_targets())
    for path, _ in hooks.experiment_pages():
        assert (site / "experiments" / path.stem / "index.html").exists(), path.name
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        assert (site / "notebooks" / notebook.stem / "index.html").exists(), notebook.name
    performance = html.unescape((site / "performance" / "index.html").read_text())
    from lab.bench.record import load_all

    assert all(r.command in performance for r in load_all())
