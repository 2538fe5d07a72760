"""An evolve's results folder: what a resume needs, committed atomically at every generation's end.

Layout of ``sweep_results/<timestamp>_<name>/``::

    lineage.json                  every generation, every agent's parent, the elite, and ``resume``:
                                  the committed generation, its checkpoint, the selection RNG and the slots
    checkpoints/generation_0003.pt  the population after generation 3's selection (lab eval ... --agent K)
    elite/policy.pt, config.yaml  the latest generation's best agent (watch, gif and eval accept policy.pt)

A generation commits in this order: its checkpoint (a new file), then lineage.json naming it
(the commit itself: one atomic rename), then the older checkpoint is removed, then elite/.
A kill at any point leaves lineage.json naming a complete checkpoint; an elite/ one generation
behind is rewritten on the next run. Only one process works in a folder at a time (a lock
that a killed process releases), and a re-run must be the same evolve: its record (base
config, parameters, settings except ``generations``) is compared as ``sweep`` compares its plan.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab.io import atomic_write_json, atomic_write_text
from lab.search.evolve import settings
from lab.search.evolve_population import EvolvingPopulation, ResumeState, Slot
from lab.search.records import first_difference, normalise, parameter_records, results_folder
from lab.search.space import SearchSpec, SpecError

RESULTS_ROOT = Path("sweep_results")
LINEAGE = "lineage.json"
CHECKPOINTS = "checkpoints"
ELITE = "elite"
LOCK = ".evolve.lock"
OWN_ENTRIES = {CHECKPOINTS, ELITE, LOCK}
"""What an evolve may have left in its folder before its first commit."""


def evolve_record(spec: SearchSpec) -> dict[str, Any]:
    """What makes two evolve files one evolve: everything but the number of generations (which may grow)."""
    kept = {k: v for k, v in settings(spec).items() if k != "generations"}
    return normalise({"name": spec.name, "base_config": spec.base.to_dict(), "settings": kept,
                      "parameters": parameter_records(spec.parameters)})


def default_folder(spec: SearchSpec, root: str | Path = RESULTS_ROOT, fresh: bool = False) -> Path:
    """The latest folder under root holding this same evolve (to resume or extend it), else a new one."""
    record = evolve_record(spec)

    def same(folder: Path) -> bool:
        try:
            saved = json.loads((folder / LINEAGE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(saved, dict) and first_difference(saved.get("record"), record) is None

    return results_folder(Path(root), spec.name, same, fresh)


class EvolveFolder:
    """One evolve's folder: its lock, its lineage, its commits and its elite."""

    def __init__(self, path: Path, spec: SearchSpec) -> None:
        self.path, self.spec = path, spec
        self.checkpoints = path / CHECKPOINTS

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's lock (an OS lock, released when the process ends, however it ends)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / LOCK, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                raise SpecError(f"{self.path} is in use by another lab evolve (PID {holder}): wait for it to end, "
                                "or choose another --out") from None
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ---- reading ------------------------------------------------------------------------------------
    def load(self) -> dict[str, Any] | None:
        """The committed lineage of this same evolve, or None for a new one; anything else is refused in one line."""
        path = self.path / LINEAGE
        if not path.is_file():
            foreign = sorted(p.name for p in self.path.iterdir() if p.name not in OWN_ENTRIES)
            if foreign:
                raise SpecError(f"--out {self.path} holds files that are not an evolve's ({foreign[0]!r}): "
                                "choose a new or empty folder")
            self._remove_checkpoints(keep=None)  # written by a run killed before its first commit
            return None
        try:
            lineage = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SpecError(f"{path} is corrupt ({exc}): restore it, or delete {self.path} to start over") from None
        if not isinstance(lineage, dict) or "resume" not in lineage or "record" not in lineage:
            raise SpecError(f"{path} was written by an earlier version of the lab and cannot be resumed: choose "
                            "another --out, or delete that folder to start over")
        difference = first_difference(lineage["record"], evolve_record(self.spec))
        if difference:
            raise SpecError(f"{self.path} holds a different evolve ({difference}); choose another --out, or "
                            "delete that folder to start over")
        return lineage

    def resume_state(self, lineage: dict[str, Any]) -> ResumeState:
        resume = lineage["resume"]
        checkpoint = self.path / resume["checkpoint"]
        if not checkpoint.is_file():
            raise SpecError(f"{checkpoint} is missing, though {self.path / LINEAGE} names it: restore it, or "
                            "delete that folder to start over")
        slots = [Slot(i, int(s["agent"]), dict(s["hyperparameters"])) for i, s in enumerate(resume["slots"])]
        return ResumeState(checkpoint, resume["rng"], slots, int(resume["next_id"]))

    # ---- writing ------------------------------------------------------------------------------------
    def new_lineage(self, s: dict[str, Any], pop: EvolvingPopulation) -> dict[str, Any]:
        agents = {str(m.id): {"parent": None, "born": 0, "slot": m.index, "hyperparameters": dict(m.hyperparameters)}
                  for m in pop.slots}
        return {"name": self.spec.name, "spec": self.spec.raw, "settings": s, "record": evolve_record(self.spec),
                "generations": [], "agents": agents, "trained_as": "population", "shared_replay": pop.shared_replay}

    def checkpoint_of(self, generation: int) -> Path:
        return self.checkpoints / f"generation_{generation:04d}.pt"

    def commit(self, pop: EvolvingPopulation, lineage: dict[str, Any], generation: int) -> None:
        """The generation's checkpoint, then lineage.json naming it (the commit), then the older checkpoint goes."""
        checkpoint = pop.save(self.checkpoint_of(generation))
        lineage["resume"] = {
            "generation": generation, "checkpoint": str(checkpoint.relative_to(self.path)),
            "rng": pop.rng.bit_generator.state, "next_id": pop.next_id,
            "slots": [{"agent": m.id, "hyperparameters": dict(m.hyperparameters)} for m in pop.slots]}
        atomic_write_json(self.path / LINEAGE, lineage)
        self._remove_checkpoints(keep=checkpoint.name)

    def _remove_checkpoints(self, keep: str | None) -> None:
        for old in self.checkpoints.glob("generation_*.pt"):
            if old.name != keep:
                old.unlink(missing_ok=True)

    def elite_record(self, pop: EvolvingPopulation, slot: int, fitness: float, generation: int) -> dict[str, Any]:
        """lineage.json's ``elite``: where its files are, and which agent of which checkpoint it is."""
        m = pop.slots[slot]
        elite = self.path / ELITE
        return {"policy": str(elite / "policy.pt"), "config": str(elite / "config.yaml"),
                "checkpoint": str(self.checkpoint_of(generation)), "slot": slot, "env_step": pop.env_step,
                "generation": generation, "fitness": float(fitness), "agent_id": m.id,
                "hyperparameters": dict(m.hyperparameters)}

    def save_elite(self, pop: EvolvingPopulation, elite: dict[str, Any]) -> None:
        """elite/policy.pt (watch, gif, eval) and elite/config.yaml (train it alone) for lineage's elite.

        The elite survives its generation's selection untouched (no agent is fitter), so the committed
        population still holds it in its slot.
        """
        from lab.checkpoint import save_policy

        m = pop.slots[elite["slot"]]
        config = pop.elite_config(m)
        meta = {k: elite[k] for k in ("env_step", "generation", "fitness", "agent_id", "slot", "hyperparameters")}
        save_policy(pop.policy(m.index), elite["policy"], config.network, meta)
        atomic_write_text(elite["config"], f"# PBT elite: agent {m.id}, generation {elite['generation']}, fitness "
                                           f"{elite['fitness']:.2f}\n" + config.to_yaml())

    def check_elite(self, lineage: dict[str, Any]) -> None:
        """A finished evolve killed between its last commit and its elite gets that elite now."""
        from lab.checkpoint import CheckpointError, read_checkpoint_file

        elite = lineage["elite"]
        try:
            current = read_checkpoint_file(elite["policy"]).get("generation") == elite["generation"]
        except CheckpointError:
            current = False
        if current and Path(elite["config"]).is_file():
            return
        pop = EvolvingPopulation(self.spec, lineage["settings"], self.resume_state(lineage))
        try:
            self.save_elite(pop, elite)
        finally:
            pop.close()

    def result(self, lineage: dict[str, Any]) -> dict[str, Any]:
        return {"folder": str(self.path), "elite": lineage["elite"], "generations": len(lineage["generations"])}
