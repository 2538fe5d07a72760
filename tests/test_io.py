"""lab.io's readers and guards: YAML aliases refused before they expand, outputs that replace only their own
kind, and names with bytes that are not UTF-8."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lab.config import Config, ConfigError
from lab.io import AliasError, ForeignFileError, check_replaceable, read_json_or_yaml, shown, strict_yaml

ROOT = Path(__file__).resolve().parent.parent

ALIAS_BOMB = textwrap.dedent("""\
    a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]
    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
    h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
    i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
    network:
      actor_hidden: *i
      critic_hidden: [64, 64]
    run: {total_steps: 1000}
    """)
"""Nine nested aliases under a valid field: 9**9 (387 million) numbers once expanded."""


def test_an_alias_bomb_is_refused_at_its_first_alias_fast_and_small(tmp_path):
    """In a child process with 1 GB of address space, so that a regression fails instead of eating the machine."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    child = textwrap.dedent(f"""\
        import resource, sys, time
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from lab.config import Config
        start = time.perf_counter()
        try:
            Config.load({str(bomb)!r})
        except ValueError as exc:
            print(exc)
        print(f"seconds={{time.perf_counter() - start:.3f}}")
        """)
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    error, timing = done.stdout.strip().splitlines()
    assert error == (f"config file {str(bomb)!r} uses the YAML alias *a (line 2): aliases are refused, since a few "
                     "lines of nested aliases expand to gigabytes; write the value out in full")
    assert float(timing.split("=")[1]) < 10  # refused while reading: the unguarded parse took 57 s and 6.4 GB


def test_the_cli_refuses_an_aliased_config_in_one_line(tmp_path, capsys):
    from lab.cli import main

    config = tmp_path / "aliased.yaml"
    config.write_text("sizes: &s [64, 64]\nnetwork:\n  actor_hidden: *s\n")
    assert main(["train", "--config", str(config), "--print-config"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"error: config file {str(config)!r} uses the YAML alias *s (line 3): aliases are " \
                                "refused, since a few lines of nested aliases expand to gigabytes; write the value " \
                                "out in full\n"


def test_aliases_are_refused_in_config_and_search_files_and_anchors_alone_are_fine(tmp_path):
    from lab.search.space import SpecError, load_spec

    config = tmp_path / "config.yaml"
    config.write_text("sizes: &s [64, 64]\nnetwork:\n  actor_hidden: *s\n")
    with pytest.raises(ConfigError, match=r"'.*config.yaml' uses the YAML alias \*s \(line 3\)"):
        Config.load(config)
    search = tmp_path / "search.yaml"
    search.write_text("name: s\nbase: tiny\nparameters:\n  actor_lr: &lr {min: 1.0e-4, max: 1.0e-3}\n"
                      "  critic_lr: *lr\n")
    with pytest.raises(SpecError, match=r"alias \*lr \(line 5\)"):
        load_spec(search)
    assert strict_yaml("x: &a 1\ny: 2\n") == {"x": 1, "y": 2}
    with pytest.raises(AliasError):
        strict_yaml("x: &a 1\ny: *a\n")
    merge = tmp_path / "merge.yaml"
    merge.write_text("base: &b {actor_lr: 1.0e-3}\ntraining:\n  <<: *b\n")
    with pytest.raises(ValueError, match="alias"):
        read_json_or_yaml(merge, "config file")


def test_check_replaceable_allows_absent_files_and_marked_ones_only(tmp_path):
    markers = (b"<!-- ours -->",)
    check_replaceable(tmp_path / "absent.html", markers, "a page")
    ours = tmp_path / "ours.html"
    ours.write_bytes(b"<html><!-- ours --></html>")
    check_replaceable(ours, markers, "a page")
    theirs = tmp_path / "theirs.html"
    theirs.write_bytes(b"<html>" + b" " * 5000 + b"<!-- ours --></html>")  # a marker only counts near the top
    with pytest.raises(ForeignFileError, match=r"'.*theirs.html' exists and was not written by the lab as a page"):
        check_replaceable(theirs, markers, "a page")
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        check_replaceable(tmp_path, markers, "a page")


def test_shown_prints_a_byte_that_is_not_utf8_as_an_escape():
    name = os.fsdecode(b"/runs/caf\xe9")
    assert shown(name) == "/runs/caf\\xe9"
    assert shown(Path(name)).encode("utf-8") == b"/runs/caf\\xe9"
    assert shown("/runs/café") == "/runs/café"


def test_quoted_keeps_a_path_on_one_line_and_shows_a_byte_that_is_not_utf8():
    from lab.io import quoted

    assert quoted("/runs/a b") == repr("/runs/a b")
    assert quoted(os.fsdecode(b"/runs/r\xff\nx")) == "'/runs/r\\xff\\nx'"
    assert quoted(Path("C:\\udc80")) == repr("C:\\udc80")  # a written-out backslash is not a byte
