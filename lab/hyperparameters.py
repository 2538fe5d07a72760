"""Which hyperparameters can change while a run trains, and how a change is checked.

Most live names are config fields, so a change is validated by building the new
config; the two schedule overrides (noise_scale, per_beta) are checked here.
"""

from __future__ import annotations

from typing import Any

from lab.config import Config, ConfigError
from lab.noise import noise_scale

LIVE_CONFIG_FIELDS: dict[str, str] = {
    "actor_lr": "training.actor_lr",
    "critic_lr": "training.critic_lr",
    "tau": "training.tau",
    "gamma": "training.gamma",
    "batch_size": "training.batch_size",
    "policy_delay": "training.policy_delay",
    "updates_per_step": "training.updates_per_step",
    "target_policy_noise": "training.target_policy_noise",
    "target_noise_clip": "training.target_noise_clip",
    "target_pessimism": "training.target_pessimism",
    "per_alpha": "training.per_alpha",
    "sigma": "noise.sigma",
    "theta": "noise.theta",
    "reward_shaping": "env.reward_shaping",
    "shaping_time_penalty": "env.shaping_time_penalty",
    "shaping_ground_bonus": "env.shaping_ground_bonus",
    "shaping_leg_bonus": "env.shaping_leg_bonus",
    "shaping_upright_bonus": "env.shaping_upright_bonus",
    "shaping_landing_bonus": "env.shaping_landing_bonus",
}
SCHEDULE_OVERRIDES: dict[str, tuple[float, float]] = {
    "noise_scale": (0.0, 10.0),
    "per_beta": (0.0, 1.0),
}
LIVE_NAMES = tuple(LIVE_CONFIG_FIELDS) + tuple(SCHEDULE_OVERRIDES)


def validate_changes(config: Config, changes: dict[str, Any]) -> tuple[Config, dict[str, Any]]:
    """The config with the changes applied, and the schedule overrides; raises ConfigError on bad input."""
    unknown = [name for name in changes if name not in LIVE_NAMES]
    if unknown:
        raise ConfigError(f"cannot change {', '.join(map(repr, unknown))} while training: "
                          f"live hyperparameters are {', '.join(LIVE_NAMES)}")
    overrides = {}
    for name, value in changes.items():
        if name in SCHEDULE_OVERRIDES:
            lo, hi = SCHEDULE_OVERRIDES[name]
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value <= hi
            if not ok:
                raise ConfigError(f"{name}={value!r} is invalid: allowed a number in [{lo}, {hi}]")
            overrides[name] = float(value)
    config_changes = {LIVE_CONFIG_FIELDS[n]: v for n, v in changes.items() if n in LIVE_CONFIG_FIELDS}
    return (config.with_overrides(config_changes) if config_changes else config), overrides


def scheduled_noise_scale(config: Config, overrides: dict[str, float], episodes: int) -> float:
    """The exploration noise multiplier now: a live override, else the config's decay schedule."""
    return overrides["noise_scale"] if "noise_scale" in overrides else noise_scale(config.noise, episodes)


def scheduled_per_beta(config: Config, overrides: dict[str, float], env_step: int) -> float:
    """The PER importance exponent now: a live override, else annealed over run.total_steps."""
    if "per_beta" in overrides:
        return overrides["per_beta"]
    from lab.replay import per_beta  # torch: only when a run asks

    t = config.training
    return per_beta(t.per_beta_start, t.per_beta_end, env_step / config.run.total_steps)


def live_values(config: Config, overrides: dict[str, float], episodes: int, env_step: int) -> dict[str, Any]:
    """Current value of every live hyperparameter, by its live name."""
    values = {name: getattr(getattr(config, dotted.split(".")[0]), dotted.split(".")[1])
              for name, dotted in LIVE_CONFIG_FIELDS.items()}
    return {**values, "noise_scale": scheduled_noise_scale(config, overrides, episodes),
            "per_beta": scheduled_per_beta(config, overrides, env_step)}
