"""Events the trainer publishes, and the bus that delivers them.

Events are plain frozen dataclasses, so a subscriber on another thread can keep
them without copying. Subscribers run on the trainer's thread and must return
fast; slow consumers (charts) should queue and drain on their own schedule.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trajectory:
    """One episode: the single record that training, evaluation, the renderers and PBT all produce.

    observations has T+1 rows (reset observation through the final one); the
    other arrays have T rows. Renderers add the frames they kept.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool
    truncated: bool
    seed: int | None = None
    """The env reset seed, when the runner chose it."""
    frames: list[np.ndarray] = field(default_factory=list)
    frame_steps: list[int] = field(default_factory=list)
    """The step index each kept frame shows."""

    @property
    def length(self) -> int:
        return len(self.actions)

    @property
    def ret(self) -> float:
        """The raw return."""
        return float(self.rewards.sum())


@dataclass(frozen=True)
class EpisodeEnded:
    """A training episode finished."""

    env_step: int
    episode: int
    raw_return: float
    shaped_return: float
    length: int
    success: bool
    env_index: int
    trajectory: Trajectory | None = None
    analysis: Any = None
    """The BehaviorReport when run.analyze_episodes is on, else None."""


@dataclass(frozen=True)
class UpdateMetrics:
    """Learner state, published every few hundred updates rather than every one."""

    env_step: int
    updates: int
    critic_loss: float
    actor_loss: float
    mean_q: float
    critic_grad_norm: float
    actor_grad_norm: float
    actor_lr: float
    critic_lr: float
    noise_scale: float
    per_beta: float
    steps_per_second: float
    nonfinite: tuple[str, ...] = ()
    """Names of values that became NaN or infinite: the learner diverged (the run stops)."""


@dataclass(frozen=True)
class Evaluated:
    """A deterministic evaluation finished."""

    env_step: int
    mean_return: float
    std_return: float
    success_rate: float
    returns: tuple[float, ...]
    lengths: tuple[int, ...]
    outcomes: dict[str, int] = field(default_factory=dict)
    """Outcome name -> episode count, when the analyzer ran."""
    seconds: float = 0.0
    """Wall time the evaluation took (kept off the training clock)."""
    train_seconds: float = 0.0
    """Training wall time so far, evaluations and pauses excluded."""


@dataclass(frozen=True)
class HyperparametersChanged:
    """Live hyperparameters changed; they took effect at env_step."""

    env_step: int
    changes: dict[str, tuple[Any, Any]]
    """name -> (old, new)."""


@dataclass(frozen=True)
class HyperparametersRefused:
    """A live change was refused when the loop came to apply it (e.g. another change made it invalid)."""

    env_step: int
    changes: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class RunStateChanged:
    """The run moved to a new state."""

    env_step: int
    state: str
    """running, paused, stopped, finished or failed."""
    error: str | None = None
    """The exception text when state is failed."""
    checkpoint: str | None = None
    """Path of the checkpoint written on stop, finish or failure."""


@dataclass(frozen=True)
class CheckpointSaved:
    """A checkpoint was written."""

    env_step: int
    path: str


Event = (EpisodeEnded | UpdateMetrics | Evaluated | HyperparametersChanged | HyperparametersRefused | RunStateChanged
         | CheckpointSaved)
E = TypeVar("E")
Handler = Callable[[Any], None]


class EventBus:
    """Synchronous publish/subscribe, safe to subscribe from any thread.

    A subscriber that raises is logged and kept, so one broken chart never stops
    training.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: list[tuple[type | None, Handler]] = []
        self.errors: list[str] = []

    def subscribe(self, handler: Handler, event_type: type | None = None) -> Callable[[], None]:
        """Call handler for every event (or only for event_type); returns an unsubscribe function."""
        entry = (event_type, handler)
        with self._lock:
            self._handlers = [*self._handlers, entry]

        def unsubscribe() -> None:
            with self._lock:
                self._handlers = [h for h in self._handlers if h is not entry]

        return unsubscribe

    def publish(self, event: Any) -> None:
        for event_type, handler in self._handlers:  # the list is replaced, never mutated
            if event_type is not None and not isinstance(event, event_type):
                continue
            try:
                handler(event)
            except Exception as exc:  # noqa: BLE001 - a subscriber must not kill training
                message = f"subscriber {getattr(handler, '__qualname__', handler)!r} failed on " \
                          f"{type(event).__name__}: {exc!r}"
                log.exception(message)
                if len(self.errors) < 100:
                    self.errors.append(message)


def json_safe(record: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN or infinity: such floats become null (UpdateMetrics.nonfinite says which diverged)."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()}
