"""`vima-tokenize`: parsed dataset configs -> tokenized configs ready for training."""

import logging
from pathlib import Path
from typing import Annotated, Literal

import typer
from vima_schema.command import Result, TokenizerOption, Tool, WorkersOption
from vima_schema.runner import EXIT_FAILURES, EXIT_OK

log = logging.getLogger("vima_tokenize")
tool = Tool(
    "vima-tokenize",
    "Tokenize the <variant>--parsed--<task> configs of DATASET into "
    "<variant>--preprocessed--<task> configs (text tokens, object crops, frames, actions).",
)
main = tool.main


@tool.command("vima-tokenize")
def tokenize(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="The dataset folder.")],
    variant: Annotated[str, typer.Option("--variant", help="The variant to tokenize.")] = (
        "original"
    ),
    tokenizer: TokenizerOption = None,
    workers: WorkersOption = 1,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo complete shards.")] = False,
    keep_final_observation: Annotated[
        bool,
        typer.Option(
            "--keep-final-observation",
            help="Keep the observation after the last action (T+1 observations, as stored).",
        ),
    ] = False,
    crop_resampling: Annotated[
        Literal["area", "cv2", "cogelot"],
        typer.Option(
            "--crop-resampling",
            help="How object crops are made: area (exact area mean), cv2 (OpenCV's INTER_AREA, "
            "as VIMA's own evaluation code; needs the cv2 extra) or cogelot (as CoGeLoT's "
            "preprocessing: its objects and order, area values).",
        ),
    ] = "area",
) -> Result:
    """Tokenize parsed configs (resumable: complete, up-to-date shards are skipped)."""
    from vima_tokenize.pipeline import tokenize_dataset

    result = tokenize_dataset(
        dataset,
        variant=variant,
        tokenizer=tokenizer,
        workers=workers,
        overwrite=overwrite,
        keep_final_observation=keep_final_observation,
        crop_resampling=crop_resampling,
    )
    per = result.bytes_out / max(result.episodes, 1)
    log.info(
        f"vima-tokenize: {result.episodes} episodes in {result.shards_written} shards "
        f"({result.shards_skipped} already done), {per / 1e3:.1f} KB/episode, "
        f"{len(result.failures)} failed"
    )
    return (EXIT_FAILURES if result.failures else EXIT_OK), dataset
