"""Shared test set-up: headless pygame, one torch thread, tiny configs, and the ``slow`` marker.

``pytest -m "not slow"`` is the quick loop. Tests that need a browser or PostgreSQL are
slow wherever they live, so those markers imply it; notebook and kernel tests mark it.
"""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("LAB_SMOKE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

SLOW_MARKERS = ("browser", "postgres")
"""Markers whose tests are also ``slow``."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(name) for name in SLOW_MARKERS) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def tiny_config(tmp_path):
    """A config that trains for a few hundred steps in about a second."""
    from lab.presets import preset

    return preset("tiny").with_overrides({
        "run.out_dir": str(tmp_path / "runs"),
        "run.total_steps": 600,
        "run.eval_every": 0,
        "training.learning_starts": 100,
        "env.max_episode_steps": 120,
    })
