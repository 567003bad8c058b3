"""`vima-schema`: validate and inspect raw VIMA episodes."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from vima_schema import __version__
from vima_schema.command import run_command, verbose_option
from vima_schema.discover import find_episodes
from vima_schema.enums import PickleNamespace
from vima_schema.layout import placeholders
from vima_schema.models import Episode
from vima_schema.reader import EpisodeError, read_episode
from vima_schema.runner import EXIT_FAILURES, EXIT_OK

log = logging.getLogger("vima_schema")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vima-schema", description="Validate and inspect raw VIMA episodes."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    common = [verbose_option()]
    validate = commands.add_parser(
        "validate",
        parents=common,
        help="check episodes; one JSON line per invalid episode on stdout",
        description="PATH is an episode folder or any folder above episodes; '-' reads paths "
        "from stdin. Prints one JSON line {path, error} per invalid episode.",
    )
    validate.add_argument("paths", nargs="+", metavar="PATH")
    validate.add_argument("--deep", action="store_true", help="also decode every JPEG frame")
    inspect = commands.add_parser("inspect", parents=common, help="summarise one episode")
    inspect.add_argument("path", metavar="PATH", type=Path)
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 0 when all is well, 1 when some episodes are invalid, 2 on usage
    errors, 3 on unexpected errors (see `vima_schema.command`)."""
    return run_command("vima-schema", _parser(), _run, argv)


def _run(args: argparse.Namespace) -> tuple[int, str | None]:
    if args.command == "validate":
        return _validate(args.paths, args.deep), None
    return _inspect(args.path, args.json), None


def _validate(paths: list[str], deep: bool) -> int:
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
        raise ValueError("no episode folders found")
    return EXIT_FAILURES if invalid else EXIT_OK


def summary(episode: Episode) -> dict[str, Any]:
    """Plain-data summary of an episode (what `inspect` prints)."""
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
    try:
        episode = read_episode(path)
    except EpisodeError as error:
        log.error(f"vima-schema: invalid episode: {error}")
        return EXIT_FAILURES
    info = summary(episode)
    if as_json:
        print(json.dumps(info))
        return EXIT_OK
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
