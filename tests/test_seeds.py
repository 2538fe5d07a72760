"""``--seeds`` parsing: ranges, lists and mixes, and one-line refusals that name the value."""

from __future__ import annotations

import pytest

from lab.seeds import MAX_COUNT, SeedsError, parse_seeds, take_overrides


@pytest.mark.parametrize(("given", "expected"), [
    (["0-9"], list(range(10))),
    (["0", "1", "2"], [0, 1, 2]),
    (["0-2", "5"], [0, 1, 2, 5]),
    (["11-15"], [11, 12, 13, 14, 15]),
    (["7", "3"], [7, 3]),  # the order given is the order run
    ("0-2 5", [0, 1, 2, 5]),
    (["4-4"], [4]),
    ([3, 4], [3, 4]),
])
def test_parses_seeds_and_ranges(given, expected):
    assert parse_seeds(given) == expected


@pytest.mark.parametrize(("given", "named", "why"), [
    (["3-1"], "'3-1'", "runs downward"),
    (["0-2", "2"], "seed 2", "given twice"),
    (["1", "1"], "seed 1", "given twice"),
    (["-1"], "'-1'", "negative"),
    (["abc"], "'abc'", "not a seed or a range"),
    (["1.5"], "'1.5'", "not a seed or a range"),
    (["run.seed=3"], "'run.seed=3'", "KEY=VALUE override"),
    (["2147483648"], "'2147483648'", "above 2147483647"),
    ([f"0-{MAX_COUNT}"], f"'0-{MAX_COUNT}'", "more than"),
    ([], "--seeds", "empty"),
])
def test_refuses_with_one_line_naming_the_value(given, named, why):
    with pytest.raises(SeedsError) as info:
        parse_seeds(given)
    message = str(info.value)
    assert named in message and why in message and "\n" not in message
    assert "allowed" in message and message.startswith("--seeds")


def test_names_the_option_it_parses():
    with pytest.raises(ValueError, match=r"^--train-seeds: range '5-2'"):
        parse_seeds(["5-2"], option="--train-seeds")


def test_overrides_swept_into_seeds_are_handed_back():
    assert take_overrides(["0-2", "run.total_steps=10", "5", "noise.sigma=0.2"]) == (
        ["0-2", "5"], ["run.total_steps=10", "noise.sigma=0.2"])
