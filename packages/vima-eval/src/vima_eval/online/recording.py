"""What `--record K` keeps of an episode for a person to look at: a GIF (`videos/`) and, for
the episode viewer (`vima-eval view`), a folder per episode in `recordings/<perturbation>/`
with the front and top frames of every step as JPEGs, the prompt images (an object's cropped to
it), and `episode.json`:
the prompt the policy was given and the original, the prompt mask, the actions taken, the
oracle's action from the same states (vima-sim only), the outcome and why the episode ended.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image
from vima_schema.atomic import replace_directory, temporary_sibling
from vima_schema.enums import View
from vima_schema.site import prompt_image

if TYPE_CHECKING:  # the viewer reads recordings without importing the simulator
    from vima_eval.online.episode import Outcome
    from vima_eval.online.plan import Job

VIDEOS = "videos"
RECORDINGS = "recordings"
RECORDING_FILE = "episode.json"
RECORDING_SCHEMA = "vima-eval/episode-recording"
JPEG_QUALITY = 85


def video_name_of(perturbation: str, level: int, task: str, episode: int) -> str:
    """File name of an episode's GIF in `videos/`."""
    return f"{perturbation}-L{level}-{task}-{episode:04d}.gif"


def video_name(job: Job) -> str:
    """File name of a job's GIF in `videos/`."""
    return video_name_of(job.perturbation, job.level, job.task, job.episode)


def recording_folder(root: Path, perturbation: str, episode: str) -> Path:
    """Folder of one recorded episode (`episode` as in the result table: `L1/rotate/7`)."""
    return root / RECORDINGS / perturbation / episode.replace("/", "-")


def _jpeg(path: Path, chw: np.ndarray) -> str:
    buffer = io.BytesIO()
    image = Image.fromarray(np.ascontiguousarray(np.asarray(chw).transpose(1, 2, 0)))
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    path.write_bytes(buffer.getvalue())
    return path.name


def _action(action: dict[str, Any] | None) -> dict[str, list[float]] | None:
    """Every key of an action (positions and rotations)."""
    if action is None:
        return None
    return {key: [float(v) for v in np.asarray(value).ravel()] for key, value in action.items()}


def write_recording(root: Path, job: Job, out: Outcome) -> Path:
    """Write the recording of a finished episode under run folder `root` (replacing an older
    one); returns its folder."""
    folder = recording_folder(root, job.perturbation, job.key)
    work = temporary_sibling(folder)
    try:
        frames = [
            {view: _jpeg(work / f"{view}-{i:03d}.jpg", views[view]) for view in ("front", "top")}
            for i, views in enumerate(out.frames)
        ]
        assets = {
            name: {
                View(view).value: _jpeg(
                    work / f"prompt-{name}-{View(view).value}.jpg", prompt_image(asset, view)
                )
                for view in asset.rgb
            }
            for name, asset in out.assets.items()
        }
        document = {
            "schema": RECORDING_SCHEMA,
            "version": 1,
            "episode": job.key,
            "task": job.task,
            "level": job.level,
            "perturbation": job.perturbation,
            "seed": out.seed,
            "prompt": out.prompt,
            "original_prompt": out.env_prompt,
            "prompt_mask": out.prompt_mask,
            "assets": assets,
            "frames": frames,
            "actions": [_action(a) for a in out.actions],
            "oracle": [_action(a) for a in out.oracle],
            "success": out.success,
            "failure": out.failure,
            "steps": out.steps,
            "limit": out.limit,
            "ended": out.ended,
        }
        (work / RECORDING_FILE).write_text(json.dumps(document, indent=1) + "\n")
        replace_directory(work, folder, durable=False)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return folder
