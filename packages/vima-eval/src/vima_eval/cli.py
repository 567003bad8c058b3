"""`vima-eval`: perturbations, perturbed dataset variants, offline and online evaluation and
reports."""

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from vima_schema.command import (
    Result,
    TokenizerOption,
    Tool,
    WorkersOption,
    completer,
    perturbation_names,
    task_names,
)
from vima_schema.runner import EXIT_FAILURES, EXIT_OK, mark_work_started
from vima_schema.site_options import Port, Screenshot, Serve

from vima_eval.online.cli import Device, PatchMask, Perturbations, register_online_commands

if TYPE_CHECKING:
    from vima_eval.report import Report
    from vima_eval.runs import Run

PROG = "vima-eval"
tool = Tool(
    PROG,
    "Evaluate VIMA-style policies: instruction perturbations, perturbed dataset variants, "
    "teacher-forced (offline) and closed-loop (online) evaluation, paper-style reports.",
)
main = tool.main

Resamples = Annotated[
    int, typer.Option("--resamples", help="Bootstrap resamples of the confidence intervals.")
]
ReportView = Annotated[
    bool,
    typer.Option(
        "--view",
        help="Also write the episode viewer of the result tables (`vima-eval view`) into "
        "OUT/view/ and link it from report.md.",
    ),
]
GobbledygookVocabulary = Annotated[
    Literal["english-words", "tokenizer-tokens"],
    typer.Option(
        "--vocabulary",
        help="Where gobbledygook_tokens draws its words: the shipped English list (no VIMA "
        "word) or the tokenizer's own ordinary tokens (for a T5 tokenizer).",
    ),
]


@tool.command()
def perturbations() -> int:
    """List the perturbations, one line each."""
    mark_work_started()
    from vima_schema.perturbations import PERTURBATIONS

    width = max(len(name) for name in PERTURBATIONS)
    for name, perturbation in PERTURBATIONS.items():
        print(f"{name:<{width}}  {perturbation.summary}")
    return EXIT_OK


@tool.command()
def perturb(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="The dataset folder.")],
    perturbation: Annotated[
        str,
        typer.Option(
            "--perturb",
            metavar="NAME",
            help="A prompt perturbation (see `vima-eval perturbations`).",
            autocompletion=completer(perturbation_names),
        ),
    ],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the perturbation.")] = 0,
    source: Annotated[str, typer.Option("--from", help="The variant perturbed.")] = "original",
    target: Annotated[
        str | None,
        typer.Option("--to", help="The variant written. [default: the perturbation name]"),
    ] = None,
    tokenizer: TokenizerOption = None,
    workers: WorkersOption = 1,
    vocabulary: GobbledygookVocabulary = "english-words",
) -> Result:
    """Write a perturbed dataset variant (parsed and tokenized configs)."""
    from vima_schema.perturbations import Vocabulary

    from vima_eval.perturb import perturb_dataset

    start = time.perf_counter()
    summary = perturb_dataset(
        dataset,
        perturbation,
        seed=seed,
        source=source,
        target=target,
        tokenizer=tokenizer,
        workers=workers,
        vocabulary=Vocabulary(vocabulary),
    )
    tokenized = summary.tokenized
    print(
        f"{PROG} perturb: {summary.variant}: {summary.parsed_shards_written} parsed shards "
        f"written ({summary.parsed_shards_skipped} up to date), {tokenized.episodes} episodes "
        f"tokenized, {len(tokenized.failures)} failed; {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )
    return (EXIT_FAILURES if tokenized.failures else EXIT_OK), dataset


@tool.command()
def report(
    results: Annotated[
        list[Path],
        typer.Argument(
            metavar="RESULT", help="Result tables (episodes.parquet) or result folders."
        ),
    ],
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            metavar="RESULT",
            help="A result table (or offline output folder), or 'vima-200m' (published "
            "numbers). [default: none]",
        ),
    ] = None,
    baseline_perturbation: Annotated[
        str | None,
        typer.Option(
            "--baseline-perturbation",
            metavar="NAME",
            help="The run of --baseline with this perturbation (when it holds several). "
            "[default: none]",
            autocompletion=completer(perturbation_names),
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Report folder written.")
    ] = Path("report"),
    resamples: Resamples = 1000,
    include_unchanged: Annotated[
        bool,
        typer.Option(
            "--include-unchanged",
            help="Average over every episode, also those the perturbation left unchanged.",
        ),
    ] = False,
    view: ReportView = False,
) -> Result:
    """Paper-style tables and figures from result tables."""
    from vima_eval.report import build_report, write_report
    from vima_eval.runs import BUILTIN_BASELINES, load_runs, result_path

    runs = load_runs(results)
    chosen = None if baseline is None else _baseline_run(baseline, baseline_perturbation)
    if chosen is not None and baseline not in BUILTIN_BASELINES:
        given = {result_path(path).resolve() for path in results}
        if result_path(Path(baseline)).resolve() in given:  # listed twice: shown once
            runs = [run for run in runs if run.label != chosen.label]
        elif any(run.label == chosen.label for run in runs):  # same checkpoint, another run
            chosen.source = Path(baseline).name
            chosen.label += f" [{chosen.source}]"
        runs.append(chosen)
    mark_work_started()
    built = build_report(runs, chosen, resamples=resamples, include_unchanged=include_unchanged)
    if view:
        _add_view(built, results, out)
    written = write_report(built, out)
    print(f"{PROG} report: {len(runs)} run(s) -> {written}", file=sys.stderr)
    return EXIT_OK, written


@tool.command()
def view(
    runs: Annotated[
        list[Path],
        typer.Argument(
            metavar="RUN",
            help="Result folders (online runs, with recordings from --record) or tables; "
            "runs on the same scenes open side by side.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", metavar="SITE", help="Site folder written.")] = Path(
        "view"
    ),
    title: Annotated[str, typer.Option("--title", help="Title of the site.")] = "VIMA evaluation",
    serve: Serve = False,
    port: Port = 8000,
    screenshot: Screenshot = None,
) -> Result:
    """Episode viewer: a static site (opens from the file system) of evaluation runs."""
    from vima_schema.site_options import after_view, check_view_options

    from vima_eval.view import write_view

    check_view_options(screenshot)
    written = write_view(runs, out, title)
    print(f"{PROG} view: {written / 'index.html'}", file=sys.stderr)
    after_view(written, serve, port, screenshot)
    return EXIT_OK, written


def _add_view(built: "Report", results: list[Path], out: Path) -> None:
    """Write the episode viewer of `results` into OUT/view and link it from the report."""
    from vima_eval.view import VIEW_LINK, write_view

    write_view(results, out / "view")
    built.markdown.insert(1, VIEW_LINK)


def _baseline_run(baseline: str, perturbation: str | None) -> "Run":
    """The --baseline run: a published row by name, or the one run of a result table."""
    from vima_eval.runs import BUILTIN_BASELINES, builtin_run, load_runs

    if baseline in BUILTIN_BASELINES:
        return builtin_run(baseline)
    loaded = load_runs([Path(baseline)])
    if perturbation is not None:
        loaded = [r for r in loaded if r.perturbation == perturbation]
    if len(loaded) != 1:
        raise ValueError(
            f"--baseline {baseline}: holds {len(loaded)} matching runs, expected "
            "one (choose with --baseline-perturbation)"
        )
    return loaded[0]


@tool.command()
def offline(
    checkpoint: Annotated[Path, typer.Argument(metavar="CKPT", help="A vima-train checkpoint.")],
    dataset: Annotated[
        Path, typer.Argument(metavar="DATASET", help="Dataset folder with tokenized configs.")
    ],
    config: Annotated[str, typer.Option("--config", help="The dataset variant.")] = "original",
    split: Annotated[str, typer.Option("--split", help="The split evaluated.")] = "valid",
    perturb: Perturbations = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the perturbations.")] = 0,
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Result folder written.")
    ] = Path("offline"),
    batch_size: Annotated[int, typer.Option("--batch-size", help="Episodes per forward pass.")] = 8,
    device: Device = "cpu",
    task: Annotated[
        list[str] | None,
        typer.Option(
            "--task",
            metavar="NAME",
            help="Only this task (repeatable). [default: all]",
            autocompletion=completer(task_names),
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="Evaluate only the first N episodes per task. [default: all]"),
    ] = None,
    resamples: Resamples = 1000,
    patch_image_mask: PatchMask = "mask",
) -> Result:
    """Teacher-forced evaluation of a checkpoint on a dataset split."""
    from vima_eval.model_input import PatchImageMask
    from vima_eval.offline import run_offline

    written = run_offline(
        checkpoint,
        dataset,
        variant=config,
        split=split,
        perturbations=perturb or ["noop"],
        seed=seed,
        out=out,
        batch_size=batch_size,
        device=device,
        tasks=task,
        limit=limit,
        resamples=resamples,
        patch_image_mask=PatchImageMask(patch_image_mask),
    )
    return EXIT_OK, written


def _write_run_report(folder: Path) -> Path | None:
    """The report of an online run folder (imported only when a run has finished)."""
    from vima_eval.report import write_run_report

    return write_run_report(folder)


register_online_commands(tool, _write_run_report)
