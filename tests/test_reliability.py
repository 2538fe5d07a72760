"""Nothing lost, nothing silently wrong: checksums, temp files, disk full, torn logs, run folders, signals."""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from lab.agents.networks import Actor
from lab.checkpoint import CheckpointError, read_checkpoint_file, save_policy, write_checkpoint_file
from lab.config import NetworkConfig
from lab.io import JsonlWriter, read_jsonl, remove_stale_temps
from lab.policy import load_policy
from lab.signals import Terminated, exit_code, signals_as_interrupt
from lab.train.run_folder import RunFolderInUse, RunLogger, claim_run_folder, truncate_logs

NET = NetworkConfig(actor_hidden=(16, 16), critic_hidden=(16, 16))


@pytest.fixture
def policy_file(tmp_path):
    torch.manual_seed(0)
    return save_policy(Actor(8, 2, NET), tmp_path / "policy.pt", NET, {"env_step": 7})


def _same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


# ---- checkpoint integrity ------------------------------------------------------------------------------------
def test_flipped_bytes_are_always_refused_or_load_identical_data(policy_file, tmp_path):
    original = read_checkpoint_file(policy_file)
    raw = policy_file.read_bytes()
    rng = np.random.default_rng(12)
    refused = 0
    for copy in range(40):
        damaged = bytearray(raw)
        for at in rng.choice(len(raw), size=5, replace=False):
            damaged[at] ^= int(rng.integers(1, 256))  # never xor 0: every flip changes the byte
        path = tmp_path / f"flipped{copy}.pt"
        path.write_bytes(bytes(damaged))
        try:
            loaded = read_checkpoint_file(path)
        except CheckpointError as exc:
            assert str(path) in str(exc)
            refused += 1
        else:
            assert _same(loaded, original), f"copy {copy} loaded different data silently"
    assert refused == 40  # the checksum covers every byte that matters


def test_a_flip_in_the_weights_names_the_checksum(policy_file):
    raw = bytearray(policy_file.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    policy_file.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="checksum does not match"):
        load_policy(policy_file)


def test_checksummed_files_still_load_with_plain_torch_load(policy_file):
    data = torch.load(policy_file, weights_only=True)
    assert data["kind"] == "policy" and data["env_step"] == 7


def test_old_files_without_a_checksum_still_load(policy_file, tmp_path):
    data = read_checkpoint_file(policy_file)
    old = tmp_path / "old.pt"
    torch.save(data, old)  # how files were written before checksums: a bare torch.save
    assert "file_checksum" not in torch.load(old, weights_only=True)
    obs = np.zeros((3, 8), np.float32)
    np.testing.assert_array_equal(load_policy(old)(obs), load_policy(policy_file)(obs))


def test_a_file_that_claims_a_checksum_but_lost_it_is_refused(policy_file, tmp_path):
    data = read_checkpoint_file(policy_file)
    stripped = tmp_path / "stripped.pt"
    torch.save({**data, "file_checksum": "sha256"}, stripped)
    with pytest.raises(CheckpointError, match="checksum is missing"):
        read_checkpoint_file(stripped)


@pytest.mark.parametrize("content, kind", [
    (b"hello, I am a note\n", "text"),
    (b"network:\n  actor_hidden: [64, 64]\n", "YAML"),
    (b"\x89PNG\r\n\x1a\n" + bytes(200), "a PNG image"),
    (bytes(np.random.default_rng(3).integers(0, 256, 3000, dtype=np.uint8)), "binary data"),
])
def test_files_that_are_not_checkpoints_say_what_they_are(tmp_path, content, kind):
    path = tmp_path / "thing.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_policy(path)
    message = str(info.value)
    assert str(path) in message and kind in message and "\n" not in message


def test_an_unsafe_pickle_is_refused_in_one_sentence(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "actor": Evil(), "network": {}}, path)
    with pytest.raises(CheckpointError) as info:
        load_policy(path)
    message = str(info.value)
    assert "refused as unsafe" in message and "system" in message
    assert "weights_only" not in message and "\n" not in message and message.count(". ") == 0


def test_a_checkpoint_missing_a_section_is_refused_by_name(policy_file, tmp_path):
    data = read_checkpoint_file(policy_file)
    path = tmp_path / "partial.pt"
    write_checkpoint_file(path, {**data, "kind": "checkpoint", "configs": [], "learner": {}})  # no agents
    from lab.train.checkpoints import read_training_checkpoint

    with pytest.raises(CheckpointError, match="is incompatible: it has no 'agents' section"):
        read_training_checkpoint(path, population=False)


def test_policy_with_an_unknown_network_key_or_unfitting_weights_is_refused(policy_file, tmp_path):
    data = read_checkpoint_file(policy_file)
    unknown = tmp_path / "unknown.pt"
    write_checkpoint_file(unknown, {**data, "network": {**data["network"], "wings": 2}})
    with pytest.raises(CheckpointError, match="unknown network setting 'wings': allowed are actor_hidden"):
        load_policy(unknown)
    unfit = tmp_path / "unfit.pt"
    write_checkpoint_file(unfit, {**data, "network": {**data["network"], "actor_hidden": [32, 16]}})
    with pytest.raises(CheckpointError, match=r"does not fit its network: layer '.*' has shape \(16, 8\)"):
        load_policy(unfit)
    missing = tmp_path / "missing.pt"
    weights = dict(data["actor"])
    weights.pop(sorted(weights)[0])
    write_checkpoint_file(missing, {**data, "actor": weights})
    with pytest.raises(CheckpointError, match="is missing"):
        load_policy(missing)


def test_a_network_too_large_for_memory_is_a_checkpoint_error(policy_file, monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(Actor, "__init__", no_memory)
    with pytest.raises(CheckpointError, match="too large for this machine's memory"):
        load_policy(policy_file)


# ---- temp files and disk full --------------------------------------------------------------------------------
def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temp_files_of_an_interrupted_write_are_removed_by_the_next_write(policy_file, tmp_path):
    target = tmp_path / "checkpoint.pt"
    killed = tmp_path / f".checkpoint.pt.{_dead_pid()}-k1ll3d.tmp"
    old_style = tmp_path / ".checkpoint.pt.ab12cd34.tmp"  # written before temp names carried a pid
    other = tmp_path / f".other.pt.{_dead_pid()}-x.tmp"  # another file's temp is not ours to judge
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".checkpoint.pt.{sleeper.pid}-busy.tmp"  # a writer still at work
        for path in (killed, old_style, other, live):
            path.write_bytes(b"half a checkpoint")
        write_checkpoint_file(target, read_checkpoint_file(policy_file))
        assert not killed.exists() and not old_style.exists()
        assert other.exists() and live.exists()
        assert sorted(p.name for p in tmp_path.glob(".checkpoint.pt.*")) == [live.name]
    finally:
        sleeper.kill()
        sleeper.wait()
    assert remove_stale_temps(target) == [live]


def test_disk_full_keeps_the_previous_file_and_names_the_one_being_written(policy_file, monkeypatch):
    before = policy_file.read_bytes()

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("lab.io.os.replace", full)
    with pytest.raises(OSError) as info:
        write_checkpoint_file(policy_file, read_checkpoint_file(policy_file))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(policy_file)
    assert policy_file.read_bytes() == before
    assert [p.name for p in policy_file.parent.iterdir()] == [policy_file.name]  # no temp file left


class _FillsUp:
    """A file object that takes half of a write, then reports the disk full."""

    def __init__(self, fh):
        self._fh = fh

    def write(self, data):
        self._fh.write(data[: len(data) // 2])
        self._fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._fh, name)


def test_a_log_write_that_hits_a_full_disk_leaves_no_torn_line(tmp_path):
    path = tmp_path / "episodes.jsonl"
    writer = JsonlWriter(path)
    writer.write({"env_step": 1})
    writer._fh = _FillsUp(writer._fh)
    with pytest.raises(OSError) as info:
        writer.write({"env_step": 2, "padding": "x" * 100})
    assert info.value.filename == str(path)
    writer.write({"env_step": 3})
    writer.close()
    assert path.read_text().splitlines() == ['{"env_step": 1}', '{"env_step": 3}']


# ---- logs survive one bad line -------------------------------------------------------------------------------
def test_a_torn_last_line_is_ended_before_the_next_record(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": ')
    writer = JsonlWriter(path)
    writer.write({"c": 3})
    writer.close()
    skipped = []
    assert read_jsonl(path, on_skip=lambda n, why: skipped.append((n, why))) == [{"a": 1}, {"c": 3}]
    assert skipped == [(2, "not valid JSON (a torn write?)")]


def test_one_undecodable_byte_skips_one_line_not_the_file(tmp_path):
    path = tmp_path / "episodes.jsonl"
    lines = [json.dumps({"env_step": k}).encode() for k in range(5)]
    lines[2] = lines[2][:5] + b"\xff\xfe" + lines[2][5:]
    path.write_bytes(b"\n".join(lines) + b"\n")
    skipped = []
    rows = read_jsonl(path, on_skip=lambda n, why: skipped.append((n, why)))
    assert [r["env_step"] for r in rows] == [0, 1, 3, 4]
    assert skipped == [(3, "not UTF-8")]


def _fake_run(folder, episodes=30):
    folder.mkdir(parents=True)
    rows = [json.dumps({"env_step": 100 * (k + 1), "episode": k + 1, "raw_return": float(k), "shaped_return": 0.0,
                        "length": 100, "success": False}).encode() for k in range(episodes)]
    rows[10] = rows[10].replace(b'"raw_return"', b'"raw_\xe9return"')  # one latin-1 byte in one line
    (folder / "episodes.jsonl").write_bytes(b"\n".join(rows) + b"\n")
    return folder


def test_report_and_compare_keep_every_other_episode_after_one_bad_byte(tmp_path):
    from lab.analysis.compare import compare_runs
    from lab.analysis.run_data import load_run

    folder = _fake_run(tmp_path / "run")
    run = load_run(folder)
    assert run.tracker.episodes == 29
    assert any("episodes.jsonl" in p and "line 11: not UTF-8" in p for p in run.problems)
    comparison = compare_runs([folder])
    assert not comparison.errors and comparison.runs[0].tracker.episodes == 29


# ---- a run folder holds one run ------------------------------------------------------------------------------
def test_a_new_run_refuses_a_folder_holding_a_run_but_takes_an_empty_one(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    RunLogger(empty).close()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "episodes.jsonl").write_text('{"env_step": 5}\n')
    with pytest.raises(RunFolderInUse, match=r"already holds a run \(episodes.jsonl\).*--resume .*checkpoint.pt"):
        claim_run_folder(taken)
    assert (taken / "episodes.jsonl").read_text() == '{"env_step": 5}\n'
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        claim_run_folder(a_file)
    with pytest.raises(NotADirectoryError, match=f"{str(a_file)!r} is a file"):
        claim_run_folder(a_file / "run")


def test_resuming_drops_the_lines_written_after_the_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    episodes = [{"env_step": s, "episode": k, "wall_time": s / 10} for k, s in enumerate((100, 250, 400, 520), 1)]
    text = "\n".join(json.dumps(r) for r in episodes[:2]) + "\nnot json\n" + \
        "\n".join(json.dumps(r) for r in episodes[2:]) + '\n{"env_step": 60'
    (run / "episodes.jsonl").write_text(text)
    (run / "updates.jsonl").write_text("".join(json.dumps({"env_step": s}) + "\n" for s in (200, 400, 600)))
    (run / "checkpoint.pt").write_bytes(b"")
    logger = RunLogger(run, resume_step=400)
    assert (run / "episodes.jsonl").read_text().splitlines() == [
        json.dumps(episodes[0]), json.dumps(episodes[1]), "not json", json.dumps(episodes[2])]
    assert read_jsonl(run / "updates.jsonl") == [{"env_step": 200}, {"env_step": 400}]
    assert not list(run.glob(".*.tmp"))
    from lab.events import UpdateMetrics

    fields = {f: 0.0 for f in UpdateMetrics.__dataclass_fields__}
    logger(UpdateMetrics(**{**fields, "env_step": 410}))
    logger.close()
    rows = read_jsonl(run / "updates.jsonl")
    assert [r["env_step"] for r in rows] == [200, 400, 410]
    assert rows[-1]["wall_time"] >= 40.0  # the resumed run's clock continues from the kept rows
    assert truncate_logs(run, resume_step=410) == rows[-1]["wall_time"]  # nothing left to drop: no rewrite


# ---- signals -------------------------------------------------------------------------------------------------
def test_sigterm_becomes_a_keyboard_interrupt_and_the_old_handler_comes_back():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt) as info:
        with signals_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the handler runs at the next bytecode boundary
                time.sleep(0.01)
    assert isinstance(info.value, Terminated) and info.value.signum == signal.SIGTERM
    assert exit_code(info.value) == 143 and exit_code(KeyboardInterrupt()) == 130
    assert signal.getsignal(signal.SIGTERM) == before


def test_outside_the_main_thread_the_block_runs_unchanged():
    import threading

    seen = []

    def worker():
        with signals_as_interrupt():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [signal.getsignal(signal.SIGTERM)]


# ---- resume with a real trainer ------------------------------------------------------------------------------
def _episodes(path):
    return [(r["env_step"], r["episode"], r["raw_return"]) for r in read_jsonl(path)]


def test_a_killed_run_resumed_into_its_folder_logs_each_episode_once(tiny_config, tmp_path):
    """The contract the trainer relies on: RunLogger(run_dir, resume_step=checkpoint env_step)."""
    import shutil

    from lab.events import CheckpointSaved
    from lab.train.trainer import Trainer

    config = tiny_config.with_overrides({"run.analyze_episodes": False, "run.checkpoint_every": 200,
                                         "run.total_steps": 400, "run.save_replay": True})
    run = tmp_path / "run"
    first = Trainer(config, run_dir=tmp_path / "first")  # its checkpoints; the logs under test go to run/
    logger = RunLogger(run)
    first.events.subscribe(logger)
    kept = tmp_path / "at200.pt"
    first.events.subscribe(lambda e: e.env_step == 200 and shutil.copy(e.path, kept), CheckpointSaved)
    first.fit()  # logs run to 400; as after a SIGKILL, the checkpoint at 200 is what we resume from
    first.close()
    logger.close()
    uninterrupted = _episodes(run / "episodes.jsonl")
    assert [e for e in uninterrupted if e[0] > 200], "no episode after the checkpoint: the test proves nothing"

    resumed = Trainer(config, run_dir=tmp_path / "resumed", resume=kept)
    logger = RunLogger(run, resume_step=resumed.env_step)
    resumed.events.subscribe(logger)
    resumed.fit()
    resumed.close()
    logger.close()
    assert resumed.env_step == first.env_step
    assert _episodes(run / "episodes.jsonl") == uninterrupted
