"""``train --tensorboard``: the event files, read back, hold the scalars, the hparams and the clips as video."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402

from lab.analysis.tensorboard import attach_tensorboard, flatten_hparams  # noqa: E402
from lab.render.clips import CLIPS_DIR, attach_clip_recorders, load_clips  # noqa: E402


def test_flatten_hparams_keeps_numbers_and_writes_the_rest_as_text() -> None:
    flat = flatten_hparams({"training": {"actor_lr": 1e-3, "batch_size": 32, "use_per": False},
                            "network": {"actor_hidden": [64, 64], "activation": "relu", "extra": None}})
    assert flat == {"training.actor_lr": 1e-3, "training.batch_size": 32, "training.use_per": "False",
                    "network.actor_hidden": "[64, 64]", "network.activation": "relu", "network.extra": "None"}


def read_back(log_dir: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def hparams_data(accumulator: EventAccumulator, tag: str) -> plugin_data_pb2.HParamsPluginData:
    return plugin_data_pb2.HParamsPluginData.FromString(accumulator.PluginTagToContent("hparams")[tag])


def test_a_real_run_writes_hparams_final_metrics_and_clips_as_video(tiny_config, tmp_path: Path) -> None:
    from lab.train.trainer import Trainer

    config = tiny_config.with_overrides({"run.eval_every": 300, "run.eval_episodes": 1})
    trainer = Trainer(config, run_dir=tmp_path / "run")
    board = attach_tensorboard(trainer)
    attach_clip_recorders(trainer)
    try:
        trainer.fit()
    finally:
        trainer.close()
        board.close()
    assert trainer.events.errors == []
    assert board.log_dir == tmp_path / "run" / "tensorboard"
    events = read_back(board.log_dir)

    # HParams tab: every config field, and the final metrics it compares runs by
    start = hparams_data(events, "_hparams_/session_start_info").session_start_info.hparams
    assert start["training.actor_lr"].number_value == pytest.approx(config.training.actor_lr)
    assert start["run.eval_seed"].number_value == config.run.eval_seed
    assert start["network.actor_hidden"].string_value == "[32, 32]"
    assert start["env.env_id"].string_value == "LunarLanderContinuous-v3"
    assert len(start) == len(flatten_hparams(config.to_dict()))
    experiment = hparams_data(events, "_hparams_/experiment").experiment
    metric_tags = {m.name.tag for m in experiment.metric_infos}
    assert {"hparams/best_eval_return", "hparams/last_eval_return", "hparams/last_eval_success_rate",
            "hparams/env_steps", "hparams/episodes", "hparams/mean_return_last_episodes"} == metric_tags
    evaluations = [json.loads(line) for line in (tmp_path / "run" / "evaluations.jsonl").read_text().splitlines()]
    best = events.Scalars("hparams/best_eval_return")
    assert [round(s.value, 3) for s in best] == [round(max(e["mean_return"] for e in evaluations), 3)]
    assert events.Scalars("hparams/env_steps")[0].value == trainer.env_step
    assert events.Scalars("hparams/episodes")[0].value == trainer.episodes

    # video: one animated GIF per evaluation, the clip itself, at its step
    clips = load_clips(tmp_path / "run" / CLIPS_DIR)
    videos = events.Images("eval/clip")
    assert [v.step for v in videos] == [c.env_step for c in clips] == [e["env_step"] for e in evaluations]
    for video, clip in zip(videos, clips):
        assert video.encoded_image_string == (tmp_path / "run" / CLIPS_DIR / clip.file).read_bytes()
        with Image.open(io.BytesIO(video.encoded_image_string)) as image:
            assert image.format == "GIF" and image.n_frames > 1 and image.size == (video.width, video.height)
    assert "eval/clip_caption/text_summary" in events.Tags()["tensors"]


def test_hparams_only_when_given(tmp_path: Path) -> None:
    from lab.analysis.tensorboard import TensorBoardLogger

    TensorBoardLogger(tmp_path / "plain").close()
    with pytest.raises(KeyError):
        read_back(tmp_path / "plain").PluginTagToContent("hparams")
    TensorBoardLogger(tmp_path / "tagged", hparams={"training": {"actor_lr": 3e-4}}).close()
    start = hparams_data(read_back(tmp_path / "tagged"), "_hparams_/session_start_info").session_start_info
    assert dict(start.hparams)["training.actor_lr"].number_value == pytest.approx(3e-4)
