"""`vima-schema`: validate and inspect raw VIMA episodes."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vima_schema.command import Tool
from vima_schema.runner import EXIT_FAILURES, EXIT_OK, InputError, mark_work_started

if TYPE_CHECKING:
    from vima_schema.models import Episode

log = logging.getLogger("vima_schema")
tool = Tool("vima-schema", "Validate and inspect raw VIMA episodes.")


@tool.command()
def validate(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH",
            help="An episode folder or any folder above episodes; '-' reads paths from stdin.",
        ),
    ],
    deep: Annotated[bool, typer.Option("--deep", help="Also decode every JPEG frame.")] = False,
) -> int:
    """Check episodes; print one JSON line {path, error} per invalid episode on stdout."""
    return _validate(paths, deep)


@tool.command()
def inspect(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="One raw episode folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> int:
    """Summarise one episode: task, prompt, steps, objects and prompt assets."""
    return _inspect(path, as_json)


main = tool.main


def _validate(paths: list[str], deep: bool) -> int:
    from vima_schema.discover import find_episodes
    from vima_schema.reader import EpisodeError, read_episode

    missing = [path for path in paths if path != "-" and not Path(path).exists()]
    if missing:
        raise FileNotFoundError(f"{missing[0]}: no such file or directory")
    mark_work_started()
    start = time.perf_counter()
    valid = invalid = 0
    for folder in find_episodes(paths):
        try:
            read_episode(folder, deep=deep)
            valid += 1
        except EpisodeError as error:
            invalid += 1
            print(json.dumps({"path": str(folder), "error": "; ".join(error.problems)}))
            sys.stdout.flush()
    total = valid + invalid
    seconds = time.perf_counter() - start
    log.info(
        f"vima-schema: {total} episodes checked ({'deep' if deep else 'fast'}): {valid} valid, "
        f"{invalid} invalid in {seconds:.2f} s"
    )
    if total == 0:
        raise InputError("no episode folders found")
    return EXIT_FAILURES if invalid else EXIT_OK


def summary(episode: Episode) -> dict[str, Any]:
    """Plain-data summary of an episode (what `inspect` prints)."""
    from vima_schema.enums import PickleNamespace

    return {
        "task": episode.task.name,
        "task_group": episode.task.group.name,
        "index": episode.index,
        "format": "VIMA-Data"
        if episode.pickle_namespace is PickleNamespace.vimasim
        else "VIMA-Bench",
        "prompt": episode.prompt,
        "steps": episode.steps,
        "frames": episode.num_frames,
        "end_effector": episode.end_effector_type.value,
        "difficulty": episode.difficulty.value,
        "seed": episode.seed,
        "success": episode.success,
        "position_dims": int(episode.actions.pose0_position.shape[1]),
        "objects": [
            {"obj_id": obj_id, "name": info.obj_name, "texture": info.texture_name}
            for obj_id, info in episode.objects.items()
        ],
        "assets": [
            {
                "name": name,
                "kind": asset.placeholder_type.value,
                "objects": [f"{o.obj_color} {o.obj_name}" for o in asset.obj_info],
            }
            for name, asset in episode.prompt_assets.items()
        ],
        "jpeg_bytes": sum(len(f) for frames in episode.frames.values() for f in frames),
    }


def _inspect(path: Path, as_json: bool) -> int:
    from vima_schema.reader import EpisodeError, read_episode

    try:
        episode = read_episode(path)
    except EpisodeError as error:
        raise InputError(f"invalid episode: {error}") from error
    mark_work_started()
    info = summary(episode)
    if as_json:
        print(json.dumps(info))
        return EXIT_OK
    from vima_schema.layout import placeholders

    uses = Counter(placeholders(episode.prompt))
    lines = [
        f"{info['task']} #{info['index']} ({info['task_group']}, {info['format']} format)",
        f"  prompt:       {info['prompt']}",
        f"  steps:        {info['steps']} actions, {info['frames']} frames per view, "
        f"{info['position_dims']}-D positions",
        f"  end effector: {info['end_effector']}   difficulty: {info['difficulty']}   "
        f"seed: {info['seed']}   success: {info['success']}",
        f"  objects ({len(info['objects'])}):",
        *(f"    {o['obj_id']:>3}  {o['texture']} {o['name']}" for o in info["objects"]),
        f"  assets ({len(info['assets'])}):",
        *(
            f"    {{{a['name']}}} x{uses[a['name']]}  {a['kind']}: {', '.join(a['objects'])}"
            for a in info["assets"]
        ),
    ]
    print("\n".join(lines))
    return EXIT_OK
