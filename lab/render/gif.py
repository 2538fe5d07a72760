"""Share a landing: looping, captioned, small GIFs (or MP4s) of a policy's episodes.

Small because frames are skipped (``every``), downscaled (``scale``), share one
palette with no dithering, and Pillow stores each frame as a delta of the last.
Writes are atomic, so an interrupted export never leaves a half file under the
final name.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

FORMATS = ("gif", "mp4")
HOLD_MS = 1500  # the last frame stays up this long, so a loop shows how the episode ended
MAX_GIF_FPS = 50  # browsers slow GIF delays under 20 ms down to 100 ms
MAX_MP4_FPS = 60
PALETTE_COLORS = 128
COMMENT_MAX_BYTES = 2048  # Pillow splits longer comments into 255-byte GIF sub-blocks


def export_gif(policy: Any, path: str | Path, episodes: int = 1, fps: float = 30, every: int = 2,
               scale: float = 0.5, hud: bool = True, seed: int | None = None, grid: bool = False,
               fmt: str | None = None) -> list[Path]:
    """Fly ``episodes`` episodes (seeds seed, seed+1, ...) and write them where ``path`` says (output_paths).

    A file path gets every episode, one after another (each holding its last frame), or side by side with
    grid; a folder gets one file per episode. ``policy`` is a Policy, a callable, a checkpoint path,
    'heuristic', or None (the pretrained agent). ``fmt`` is 'gif' or 'mp4'; by default it follows the
    path's suffix. Returns the paths written.
    """
    fmt = _check_args(path, episodes, fps, every, scale, fmt)
    if seed is None:  # the evaluation seeds, as `python -m lab gif` flies by default
        from lab.config import RunConfig

        seed = RunConfig().eval_seed
    seeds = [int(seed) + i for i in range(episodes)]
    outputs = output_paths(path, seeds, fmt, grid)
    for out in outputs:
        check_writable(out.parent)

    from lab.render.episode import pilot_label, resolve_pilot

    pilot = resolve_pilot(policy)
    label = pilot_label(pilot)
    clips: list[list[np.ndarray]] = []
    captions: list[str] = []
    for number, episode_seed in enumerate(seeds, start=1):
        frames, caption = render_clip(pilot, episode_seed, number, every, scale, hud, label)
        clips.append(frames)
        captions.append(caption)
    if len(outputs) == len(clips):
        return [write_video(frames, out, fps, fmt, caption) for frames, out, caption in zip(clips, outputs, captions)]
    if grid:
        return [write_video(montage(clips), outputs[0], fps, fmt, " | ".join(captions))]
    ends = [end - 1 for end in itertools.accumulate(len(c) for c in clips)]  # each episode's last frame
    return [write_video([f for c in clips for f in c], outputs[0], fps, fmt, " | ".join(captions), holds=ends)]


def _check_args(path: str | Path, episodes: int, fps: float, every: int, scale: float, fmt: str | None) -> str:
    if not isinstance(episodes, int) or isinstance(episodes, bool) or episodes < 1:
        raise ValueError(f"episodes must be an integer >= 1, got {episodes!r}")
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise ValueError(f"every must be an integer >= 1, got {every!r}")
    if not 0.1 <= float(scale) <= 2.0:
        raise ValueError(f"scale must be between 0.1 and 2.0, got {scale!r}")
    if fmt is None:
        suffix = Path(path).suffix.lower().lstrip(".")
        fmt = suffix if suffix in FORMATS else ("gif" if not suffix or Path(path).is_dir() else suffix)
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ValueError(f"output format {fmt!r} of {str(path)!r} is not supported; allowed: {', '.join(FORMATS)}")
    limit = MAX_GIF_FPS if fmt == "gif" else MAX_MP4_FPS
    if not 0 < float(fps) <= limit:
        raise ValueError(f"fps must be in (0, {limit}] for {fmt}, got {fps!r}")
    if fmt == "mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError as exc:
            raise ValueError("MP4 export needs imageio-ffmpeg: pip install 'lander-lab[video]'") from exc
    return fmt


def output_paths(path: str | Path, seeds: list[int], fmt: str, grid: bool) -> list[Path]:
    """Where the episodes go: a file PATH holds all of them (in sequence, or side by side with grid); a folder
    PATH gets 'lander-seedS' per episode (or one 'lander-seedS-Nep' montage with grid).

    A path is a folder when it exists as one, ends with a slash, or has no suffix.
    """
    raw = str(path)
    if raw.strip() == "":
        raise ValueError("the output path is empty")
    path = Path(raw).expanduser()
    if path.is_dir() or raw.endswith(("/", os.sep)) or not path.suffix:
        if len(seeds) == 1 or grid:
            name = f"lander-seed{seeds[0]}" + (f"-{len(seeds)}ep" if len(seeds) > 1 else "")
            return [path / f"{name}.{fmt}"]
        return [path / f"lander-seed{s}.{fmt}" for s in seeds]
    if path.suffix.lower() != f".{fmt}":
        raise ValueError(f"output {raw!r} ends with {path.suffix!r} but the format is {fmt!r}")
    return [path]


def check_writable(folder: Path) -> None:
    """Fail before rendering, with the folder's name, rather than after a minute of work."""
    for parent in [folder, *folder.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"cannot write into {str(folder)!r}: {str(parent)!r} is a file, not a folder")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(f"cannot create folder {str(folder)!r}: {exc.strerror or exc}") from exc
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"cannot write into folder {str(folder)!r}: permission denied")


def frame_ms(fps: float) -> int:
    """The per-frame delay a GIF can store: GIF counts in 10 ms units, so 30 fps becomes 30 ms."""
    return max(20, int(round(100.0 / float(fps))) * 10)


def render_clip(policy: Any, seed: int, number: int, every: int, scale: float, hud: bool,
                label: str) -> tuple[list[np.ndarray], str]:
    """One episode as finished frames (downscaled, HUD, verdict on the last frame, caption strip)."""
    from lab.render.episode import analyze, run_episode

    record = run_episode(policy, seed=seed, every=every, frame_fn=lambda frame, _: downscale(frame, scale))
    report = analyze(record)
    caption = episode_caption(label, seed, record.ret, report)
    return finish_frames(record.frames, record.frame_steps, record, report, number, caption, hud), caption


def episode_caption(label: str, seed: int, ret: float, report: Any | None) -> str:
    outcome = getattr(getattr(report, "outcome", None), "value", None)
    return f"{label} · seed {seed} · return {ret:+.1f}" + (f" · {human(outcome)}" if outcome else "")


def finish_frames(frames: list[np.ndarray], steps: list[int], record: Any, report: Any | None, number: int,
                  caption: str, hud: bool = True, verdict: bool = True) -> list[np.ndarray]:
    """Draw the HUD of each frame's own step from the recorded episode, the verdict last, then the caption."""
    rewards = np.concatenate([[0.0], np.cumsum(record.rewards)])
    out = []
    last = len(frames) - 1
    for i, (frame, step) in enumerate(zip(frames, steps)):
        if hud:
            from lab.render.hud import hud_frame

            action = record.actions[step - 1] if step > 0 else np.zeros(2, np.float32)
            frame = hud_frame(frame, record.observations[step], action, step, float(rewards[step]), number,
                              report, show_verdict=verdict and i == last)
        out.append(add_caption(frame, caption))
    return out


def human(name: str) -> str:
    """An outcome's enum value as words: 'LANDED_SOFTLY' -> 'landed softly'."""
    return str(name).replace("_", " ").lower()


def downscale(frame: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return frame
    from PIL import Image

    image = Image.fromarray(frame)
    factor = 1.0 / scale
    if scale < 1.0 and abs(factor - round(factor)) < 1e-6:
        return np.asarray(image.reduce(int(round(factor))))  # box filter, several times faster than resize
    h, w = frame.shape[:2]
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))


def add_caption(frame: np.ndarray, text: str) -> np.ndarray:
    """A dark strip under the frame with the caption, shrunk to fit the width."""
    import pygame

    from lab.render.fonts import font
    from lab.render.hud import TEXT, surface_to_array

    h, w = frame.shape[:2]
    size = max(11, round(h * 0.05))
    while size > 9 and font(size).size(text)[0] > w - 8:
        size -= 1
    strip_h = font(size).get_linesize() + 6
    strip = pygame.Surface((w, strip_h))
    strip.fill((18, 18, 30))
    img = font(size).render(text, True, TEXT)
    strip.blit(img, img.get_rect(center=(w // 2, strip_h // 2)))
    return np.concatenate([frame, surface_to_array(strip)], axis=0)


def montage(clips: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Tile several clips into one; a clip that ends early holds its last frame."""
    cols = math.ceil(math.sqrt(len(clips)))
    rows = math.ceil(len(clips) / cols)
    h = max(c[0].shape[0] for c in clips)
    w = max(c[0].shape[1] for c in clips)
    gap = 2
    out = []
    for t in range(max(len(c) for c in clips)):
        canvas = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), 60, np.uint8)
        for i, clip in enumerate(clips):
            frame = clip[min(t, len(clip) - 1)]
            r, c = divmod(i, cols)
            y, x = r * (h + gap), c * (w + gap)
            canvas[y:y + frame.shape[0], x:x + frame.shape[1]] = frame
        out.append(canvas)
    return out


def write_video(frames: list[np.ndarray], path: Path, fps: float, fmt: str, caption: str = "",
                holds: list[int] | None = None) -> Path:
    if not frames:
        raise ValueError("no frames to write")
    return (write_gif(frames, path, fps, caption, holds=holds) if fmt == "gif"
            else write_mp4(frames, path, fps, holds=holds))


def write_gif(frames: list[np.ndarray], path: str | Path, fps: float, caption: str = "",
              colors: int = PALETTE_COLORS, holds: list[int] | None = None) -> Path:
    """A GIF that loops forever, with one palette shared by all frames and the caption as its comment.

    The last frame, and each frame listed in ``holds`` (where an episode ends), stays up HOLD_MS.
    """
    from PIL import Image

    from lab.io import atomic_write

    palette = shared_palette(frames, colors=colors)
    images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    delay = frame_ms(fps)
    held = {len(images) - 1, *(holds or ())}
    durations = [max(delay, HOLD_MS) if i in held else delay for i in range(len(images))]

    def save(fh: Any) -> None:
        images[0].save(fh, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0,
                       optimize=False, comment=caption.encode("utf-8")[:COMMENT_MAX_BYTES])

    return _shareable(atomic_write(path, save))


def _shareable(path: Path) -> Path:
    """atomic_write's temp files are private (0600); a GIF is made to be shared."""
    os.chmod(path, 0o644)
    return path


def shared_palette(frames: list[np.ndarray], samples: int = 16, colors: int = PALETTE_COLORS) -> Any:
    """One palette from frames sampled across the clip, so colours don't flicker from frame to frame."""
    from PIL import Image

    picks = np.linspace(0, len(frames) - 1, num=min(samples, len(frames))).round().astype(int)
    sheet = np.concatenate([frames[i] for i in sorted(set(picks))], axis=0)
    return Image.fromarray(sheet).quantize(colors=colors, method=Image.Quantize.MEDIANCUT,
                                            dither=Image.Dither.NONE)


def read_gif(path: str | Path) -> tuple[list[np.ndarray], str]:
    """A GIF's RGB frames and its comment, each frame repeated for as long as it was shown.

    Pillow merges identical consecutive frames into one longer frame when writing;
    repeating them back keeps clips that are tiled together in step. The last frame's
    hold is not repeated: a montage holds finished clips anyway.
    """
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        comment = image.info.get("comment", b"")
        raw = [(np.asarray(f.convert("RGB")), int(f.info.get("duration", 0) or 0))
               for f in ImageSequence.Iterator(image)]
    base = min((d for _, d in raw[:-1] if d > 0), default=0)
    frames: list[np.ndarray] = []
    for i, (frame, duration) in enumerate(raw):
        repeat = 1 if i == len(raw) - 1 or base == 0 else max(1, round(duration / base))
        frames.extend([frame] * repeat)
    text = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else str(comment)
    return frames, text


def write_mp4(frames: list[np.ndarray], path: str | Path, fps: float, holds: list[int] | None = None) -> Path:
    """H.264 MP4 through imageio-ffmpeg, written to a temp name beside the target and renamed.

    The last frame, and each frame listed in ``holds``, is repeated to stay up HOLD_MS.
    """
    import imageio.v3 as iio

    path = Path(path)
    h, w = frames[0].shape[:2]
    ph, pw = -h % 16, -w % 16  # H.264 wants sizes in macroblocks; pad instead of letting ffmpeg resize
    repeat = max(1, round(HOLD_MS / 1000 * fps))
    held = {len(frames) - 1, *(holds or ())}
    padded = [np.pad(f, ((0, ph), (0, pw), (0, 0)), mode="edge") for f in frames]
    padded = [frame for i, frame in enumerate(padded) for _ in range(repeat if i in held else 1)]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".mp4", dir=path.parent)
    os.close(fd)
    try:
        iio.imwrite(tmp, np.stack(padded), plugin="FFMPEG", extension=".mp4", fps=fps, codec="libx264",
                    macro_block_size=16, pixelformat="yuv420p")
        os.replace(tmp, path)
        _shareable(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
