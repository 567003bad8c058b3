"""`vima-convert`: raw VIMA episodes -> per-episode files -> Hugging Face dataset."""

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from vima_schema.command import Result, Tool, WorkersOption
from vima_schema.runner import EXIT_FAILURES, EXIT_OK, EXIT_USAGE, mark_work_started
from vima_schema.site_options import Port, Screenshot, Serve

log = logging.getLogger("vima_convert")
tool = Tool(
    "vima-convert",
    "Convert raw VIMA episodes into a Hugging Face dataset, in two resumable steps: parse "
    "(raw -> one file per episode) and build (files -> parquet dataset).",
)
main = tool.main


def _shard(text: str | None) -> tuple[int, int] | None:
    """`--shard I/N` -> (I, N); ValueError (exit 2) when it is not that."""
    if text is None:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r} is not I/N") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text!r} needs 0 <= I < N")
    return index, count


Dataset = Annotated[Path, typer.Argument(metavar="DATASET", help="The dataset folder.")]
Source = Annotated[str, typer.Option("--config", help="The parsed config to read.")]


@tool.command()
def parse(
    raw: Annotated[
        list[str],
        typer.Argument(metavar="RAW", help="Raw root, episode folder, or '-' (paths on stdin)."),
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="PARSED", help="Folder of per-episode files.")
    ],
    workers: WorkersOption = 1,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            metavar="I/N",
            help="Take a deterministic 1/N of the episodes (SLURM arrays). [default: all]",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Redo episodes already parsed.")
    ] = False,
) -> Result:
    """Raw episodes -> one parsed file per episode (resumable; failures in failures.jsonl)."""
    from vima_convert.parse import parse as parse_raw

    parsed = parse_raw(raw, out, workers=workers, shard=_shard(shard), overwrite=overwrite)
    log.info(
        f"vima-convert parse: {parsed.written} written, {parsed.skipped} already done, "
        f"{parsed.failed} failed (listed in {out / 'failures.jsonl'}); "
        f"{parsed.bytes_in / 1e6:.1f} MB in, {parsed.bytes_out / 1e6:.1f} MB out"
    )
    return (EXIT_FAILURES if parsed.failed else EXIT_OK), out


@tool.command()
def build(
    parsed: Annotated[
        Path, typer.Argument(metavar="PARSED", help="Folder of per-episode files (from parse).")
    ],
    out: Annotated[Path, typer.Option("--out", metavar="DATASET", help="The dataset folder.")],
    variant: Annotated[str, typer.Option("--variant", help="Name of the variant written.")] = (
        "original"
    ),
    valid_size: Annotated[
        str,
        typer.Option(
            "--valid-size", help="Validation episodes over all tasks: a count, or a fraction."
        ),
    ] = "50000",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the train/valid split.")] = 1000,
    max_shard_mb: Annotated[
        float, typer.Option("--max-shard-mb", help="Largest parquet shard, in MB.")
    ] = 500.0,
    workers: WorkersOption = 1,
) -> Result:
    """Parsed files -> parquet dataset with stratified train/valid splits (resumable)."""
    from vima_convert.build import build as build_dataset
    from vima_convert.split import parse_valid_size

    built = build_dataset(
        parsed,
        out,
        variant=variant,
        valid_size=parse_valid_size(valid_size),
        seed=seed,
        max_shard_mb=max_shard_mb,
        workers=workers,
    )
    per = built.bytes_out / max(built.episodes, 1)
    log.info(
        f"vima-convert build: {built.episodes} episodes in {built.shards} shards, "
        f"{built.bytes_out / 1e6:.1f} MB ({per / 1e3:.1f} KB/episode), "
        f"{len(built.failures)} failed"
    )
    return (EXIT_FAILURES if built.failures else EXIT_OK), out


@tool.command()
def reword(
    dataset: Dataset,
    source: Annotated[str, typer.Option("--from", help="The variant to paraphrase.")] = (
        "original"
    ),
    target: Annotated[str, typer.Option("--to", help="The variant written.")] = "reworded",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the paraphraser.")] = 0,
) -> Result:
    """Write the paraphrased-instruction variant of a dataset."""
    from vima_convert.reword_dataset import reword_dataset

    reworded = reword_dataset(dataset, source=source, target=target, seed=seed)
    log.info(
        f"vima-convert reword: {reworded.reworded}/{reworded.episodes} prompts paraphrased, "
        f"{len(reworded.kept)} kept unchanged"
    )
    return (EXIT_FAILURES if reworded.kept else EXIT_OK), dataset


@tool.command()
def stats(
    dataset: Dataset,
    config: Source = "original--parsed",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", metavar="FILE.png", help="Also draw histograms. [default: none]"),
    ] = None,
) -> Result:
    """Episodes, steps, objects, textures and prompt lengths of a dataset config."""
    from vima_convert.stats import format_table, load_metadata, summarize
    from vima_convert.stats import plot as draw

    data = load_metadata(dataset, config)
    mark_work_started()
    summary = summarize(data)
    print(json.dumps(summary) if as_json else format_table(summary))
    return EXIT_OK, (draw(data, plot) if plot else None)


@tool.command("export-raw")
def export_raw(
    dataset: Dataset,
    out: Annotated[Path, typer.Option("--out", metavar="RAW", help="Raw episode root written.")],
    config: Source = "original--parsed",
    split: Annotated[
        str | None, typer.Option("--split", help="Only this split. [default: all]")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace episode folders that exist.")
    ] = False,
) -> Result:
    """Dataset -> raw episode folders (lossless)."""
    from vima_convert.export import export_raw as export

    count = export(dataset, out, config=config, split=split, overwrite=overwrite)
    log.info(f"vima-convert export-raw: {count} episodes written")
    return EXIT_OK, out


@tool.command()
def push(
    dataset: Dataset,
    repo_id: Annotated[
        str, typer.Option("--repo-id", metavar="ID", help="Hub dataset repository, owner/name.")
    ],
    private: Annotated[bool, typer.Option("--private", help="Create it private.")] = False,
) -> Result:
    """Upload the dataset folder to the Hugging Face Hub."""
    from vima_convert.push import PushError
    from vima_convert.push import push as upload

    try:
        return EXIT_OK, upload(dataset, repo_id, private=private)
    except PushError as error:
        log.error(f"vima-convert push: error: {error}")
        return EXIT_USAGE, None


@tool.command()
def view(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="DATASET",
            help="A dataset folder (parsed configs; built or generated) or raw episode folders.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", metavar="SITE", help="Site folder written.")] = Path(
        "view"
    ),
    per_task: Annotated[
        int,
        typer.Option("--per-task", help="Episodes shown per variant, task and split (0: all)."),
    ] = 50,
    title: Annotated[
        str | None, typer.Option("--title", help="Title of the site. [default: the folder name]")
    ] = None,
    serve: Serve = False,
    port: Port = 8000,
    screenshot: Screenshot = None,
) -> Result:
    """Episode viewer: a static site (opens from the file system) of a dataset's episodes."""
    from vima_schema.site_options import after_view, check_view_options

    from vima_convert.view import write_dataset_view

    check_view_options(screenshot)
    written = write_dataset_view(source, out, per_task, title)
    log.info(f"vima-convert view: {written / 'index.html'}")
    after_view(written, serve, port, screenshot)
    return EXIT_OK, written
