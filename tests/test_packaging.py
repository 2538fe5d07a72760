"""environment.yml and pyproject.toml must ask for the same runtime dependencies (and the docs tools)."""

import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _normalise(requirement: str) -> str:
    return requirement.replace(" ", "").lower()


def test_environment_yml_pins_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert conda_python == "python=3.11" and project["requires-python"] == ">=3.11"
    pip_requirements = {_normalise(r) for r in pip_section if not r.startswith("-e")}
    wanted = [*project["dependencies"], *project["optional-dependencies"]["docs"]]  # conda users get the docs tools
    assert pip_requirements == {_normalise(r) for r in wanted}
    assert "-e .[dev]" in pip_section  # the package itself with its dev extra


@pytest.mark.xdist_group("committed_notebooks")  # not beside the browser test, which may autosave outputs
def test_every_notebook_has_a_kernelspec_and_no_outputs():
    import json

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell.get("outputs", []) == [], f"{path.name} is committed with outputs"
