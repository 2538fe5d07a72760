"""The tutorials' one setup line: the video driver follows the display, budgets follow LAB_SMOKE."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lab.notebook import choose_video_driver, setup


@pytest.fixture
def linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")


def test_with_a_display_pygame_keeps_its_own_driver_so_a_window_can_open(linux):
    environ = {"DISPLAY": ":0"}
    said = choose_video_driver(environ)
    assert "SDL_VIDEODRIVER" not in environ
    assert "real window" in said


def test_a_wayland_desktop_counts_as_a_display(linux):
    environ = {"WAYLAND_DISPLAY": "wayland-0"}
    choose_video_driver(environ)
    assert "SDL_VIDEODRIVER" not in environ


def test_without_a_display_pygame_draws_off_screen(linux):
    environ: dict[str, str] = {}
    said = choose_video_driver(environ)
    assert environ["SDL_VIDEODRIVER"] == "dummy"
    assert "off screen" in said


def test_a_driver_the_user_chose_is_kept(linux):
    environ = {"SDL_VIDEODRIVER": "offscreen"}
    choose_video_driver(environ)
    assert environ["SDL_VIDEODRIVER"] == "offscreen"


def test_the_setup_line_under_lab_smoke_shrinks_budgets_and_uses_a_throwaway_folder(linux, tmp_path, monkeypatch,
                                                                                    capsys):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    runs, budget = setup({"LAB_SMOKE": "1"})
    assert budget(100_000, 600) == 600 and budget("guided", "tiny") == "tiny" and budget.smoke
    assert runs.is_dir() and runs.parent == tmp_path
    assert "smoke" in capsys.readouterr().out


def test_the_setup_line_for_a_reader_keeps_full_budgets_and_runs_beside_the_notebooks(linux, tmp_path, capsys):
    environ = {"DISPLAY": ":1"}
    result = setup(environ, cwd=tmp_path / "notebooks")
    runs, budget = result
    assert budget(100_000, 600) == 100_000 and not result.smoke
    assert runs == tmp_path / "runs"
    assert setup(environ, cwd=tmp_path).runs == tmp_path / "runs"  # started from the repo root
    assert "SDL_VIDEODRIVER" not in environ
    printed = capsys.readouterr().out
    assert "full budgets" in printed and "real window" in printed and str(Path(tmp_path / "runs")) in printed


def test_a_training_cells_progress_bar_follows_the_trainer_to_its_budget(tiny_config, tmp_path):
    from lab import Trainer
    from lab.notebook import progress_bar

    trainer = Trainer(tiny_config, run_dir=tmp_path / "run")
    try:
        bar = progress_bar(trainer)
        assert bar.bar.total == tiny_config.run.total_steps and bar.bar.n == 0
        assert "/600 [00:00<" in str(bar.bar)  # tqdm's ETA: elapsed<remaining, from the total and the rate
        trainer.fit()
    finally:
        trainer.close()
    assert bar.bar.n >= tiny_config.run.total_steps and bar.episodes > 0  # the last vector step may overshoot


def test_a_populations_progress_bar_counts_every_agents_steps(tiny_config, tmp_path):
    from lab import Population
    from lab.notebook import progress_bar

    population = Population(tiny_config, seeds=[0, 1], run_dir=tmp_path / "pop")
    try:
        bar = progress_bar(population)
        assert bar.bar.total == 2 * tiny_config.run.total_steps
        population.fit()
    finally:
        population.close()
    assert bar.bar.n >= 2 * tiny_config.run.total_steps


def test_a_sweeps_log_moves_its_bar_once_per_finished_run_or_trial(capsys):
    from lab.notebook import SearchProgress

    log = SearchProgress(3)
    log("resuming /tmp/x: 0 of 3 runs already finished")
    log("run 001 finished: actor_lr=0.001 | final eval -69.3, not solved, 1.2s")
    assert log.bar.n == 1
    log("trial 0002 pruned: actor_lr=0.0003 | evaluation -120.0")
    log("run 003 failed: actor_lr=0.003 | no evaluation, not solved, 0.1s")
    assert log.bar.n == 3
    assert "run 001 finished" in capsys.readouterr().out  # the lines are still printed
