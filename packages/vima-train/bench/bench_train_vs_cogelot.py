"""Like-for-like training step: vima-train's `family: cogelot` against CoGeLoT's own code.

    uv run --all-packages python packages/vima-train/bench/bench_train_vs_cogelot.py \
        --checkout CHECKOUT --reference-python "$(scripts/reference/setup.sh cogelot CHECKOUT)"

CHECKOUT is a clone of github.com/amitkparekh/CoGeLoT (485fe3f). The same network (CoGeLoT's
`experiment=01_their_vima` at `SIZE`, a small T5 from a T5Config, the seeded weights of
scripts/reference/seeded_weights.py on both sides) trains on the same batch: the 9 sample
episodes of data/samples/vima-raw tokenized by vima-tokenize, round-robin into batches of 8 and
16. Here the batch is vima-train's `collate`; CoGeLoT gets every episode as its
`PreprocessedInstance` (the same crops, boxes, masks, words, end effector and continuous actions,
objects of each view visible first as its `prepare_obs` lays them out) and batches them with its
own `collate_preprocessed_instances`, in a subprocess with its interpreter
(scripts/reference/train_cogelot.py). A step: forward, the loss (vima-train's `loss_of`; CoGeLoT's
`compute_fine_grained_loss` + `reduce_fine_grained_loss`), backward, clipping by norm 1, AdamW
(lr 1e-4, no weight decay: CoGeLoT's train.yaml), CPU fp32.

First, from the same weights with dropout off, one thread: per batch size the loss and every
parameter's gradient of one forward and backward pass must agree (the loss to 1e-5, each
gradient's norm and a random projection of it to 1e-4 of its norm), and `--check-steps` steps
of SGD and of AdamW are reported for both sides and for ours at two threads (the drift that
rounding alone makes). Then, per torch thread count and batch size, `--rounds` rounds each time
`--steps` steps of ours and of CoGeLoT's (after one untimed step; which side goes first
alternates), dropout 0.1 as both train. vima-train's step is its training's (fused AdamW in full
precision, module.adamw); CoGeLoT's optimiser is its config's AdamW. Figures go to stdout: one
JSON line per measurement, then a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from vima_convert.build import build
from vima_convert.parse import parse
from vima_schema.enums import Task
from vima_tokenize.pipeline import tokenize_dataset
from vima_tokenize.text import load_tokenizer
from vima_train.config import load_preset
from vima_train.data import collate, row_arrays
from vima_train.metrics import loss_of
from vima_train.module import adamw
from vima_train.policies.cogelot.layout import our_key
from vima_train.policies.cogelot.policy import CogeLoTPolicy

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(Path(__file__).parent), str(ROOT / "scripts" / "reference")]
from bench_train import source_rows, timed_steps, train_step  # noqa: E402
from seeded_weights import seeded_array  # noqa: E402

RUNNER = ROOT / "scripts" / "reference" / "train_cogelot.py"
SAMPLES = ROOT / "data" / "samples" / "vima-raw"
#: The network of both sides: CoGeLoT's xattn / obj model at embed 384 (its crop ViT and prompt
#: are as wide, so T5 is too), 4 decoder layers of 12 self- and 12 cross-attention heads, a
#: 4-block T5 of which CoGeLoT trains the last 2 (as it trains t5-base's last 2 of 12).
SIZE = {"embed_dim": 384, "layers": 4, "heads": 12, "cross_heads": 12}
T5 = {
    "vocab_size": 32128,
    "d_model": 384,
    "d_kv": 32,
    "d_ff": 1536,
    "num_layers": 4,
    "num_heads": 12,
    "feed_forward_proj": "relu",
}
TRAIN_LAST_N = 2
_DECODER = "model.policy.transformer_decoder.vima_xattn_gpt"
TOLERANCE = 1e-5
#: Largest gap of a parameter's gradient (norm, projection) relative to its norm.
GRADIENT_TOLERANCE = 1e-4
#: The checks' SGD learning rate (gradients clipped to norm 1: weights move <= 0.1 a step).
SGD_LR = 0.1
VIEWS = ("front", "top")
POSES = {"pose0_position": 3, "pose0_rotation": 4, "pose1_position": 3, "pose1_rotation": 4}


def their_spec(dropout: float) -> dict[str, Any]:
    """run_cogelot.build_model's spec: CoGeLoT's Hydra overrides and the T5 config."""
    overrides = [
        "experiment=01_their_vima",
        "output_dir=/tmp/cogelot-bench",
        f"model.policy.embed_dim={SIZE['embed_dim']}",
        f"{_DECODER}.n_layer={SIZE['layers']}",
        f"{_DECODER}.n_head={SIZE['heads']}",
        f"{_DECODER}.xattn_n_head={SIZE['cross_heads']}",
        f"{_DECODER}.dropout={dropout}",
    ]
    return {"overrides": overrides, "t5": T5 | {"dropout_rate": dropout}}


def our_policy(dropout: float, keys: list[dict[str, Any]], vocab: int) -> CogeLoTPolicy:
    """vima-train's CoGeLoT network at `SIZE` with the seeded weights of CoGeLoT's keys."""
    preset = load_preset("cogelot-xattn-obj-original").model
    decoder = preset.decoder.model_copy(
        update={k: SIZE[k] for k in ("layers", "heads", "cross_heads")}
    )
    prompt = preset.prompt_encoder.model_copy(
        update={
            "t5_path": None,
            "t5_config": T5 | {"dropout_rate": dropout},
            "train_last_n": TRAIN_LAST_N,
        }
    )
    config = preset.model_copy(
        update={
            "embed_dim": SIZE["embed_dim"],
            "decoder": decoder,
            "prompt_encoder": prompt,
            "dropout": dropout,
        }
    )
    policy = CogeLoTPolicy(config, vocab)
    state, drawn = {}, {}
    for entry in keys:
        name = entry["seeded_as"]
        if name is None:  # buffers: causal masks and position ids, built alike on both sides
            continue
        if name not in drawn:  # tied keys (T5's embedding) share one tensor
            drawn[name] = torch.from_numpy(seeded_array(name, tuple(entry["shape"])))
        state[our_key(entry["key"])] = drawn[name]
    missing = {n for n, _ in policy.named_parameters()} - set(state)
    if missing:
        raise SystemExit(f"parameters without CoGeLoT's weights: {sorted(missing)}")
    policy.load_state_dict(state, strict=False)
    return policy.train()


def sample_rows(work: Path) -> list[dict[str, Any]]:
    """The sample episodes converted and tokenized (vima-convert, vima-tokenize) into `work`,
    as `row_arrays`."""
    parse([str(SAMPLES)], work / "parsed")
    build(work / "parsed", work / "dataset", valid_size=2)
    summary = tokenize_dataset(work / "dataset")
    if summary.failures:
        raise SystemExit(f"tokenizing the samples failed: {summary.failures}")
    rows, _ = source_rows(work / "dataset")
    return [row_arrays(row) for row in rows]


def visible_first(
    crops: np.ndarray, boxes: np.ndarray, mask: np.ndarray, slots: int
) -> dict[str, np.ndarray]:
    """Objects [..., N] reordered visible first (stable) and cut to `slots`, as CoGeLoT's
    preparation lays them out (float32 crops, int64 boxes)."""
    order = np.argsort(~mask, axis=-1, kind="stable")[..., :slots]
    take = np.take_along_axis
    return {
        "cropped_img": take(crops, order[..., None, None, None], axis=-4).astype(np.float32),
        "bbox": take(boxes, order[..., None], axis=-2).astype(np.int64),
        "mask": take(mask, order, axis=-1),
    }


def instance_arrays(row: dict[str, Any], task: str) -> dict[str, np.ndarray]:
    """One episode as the fields of CoGeLoT's `PreprocessedInstance` (train_cogelot.py's
    `.npz`): observations and actions of its `steps`, observations with the extra axis of
    length 1 its dataset has."""
    steps = int(row["steps"])
    out = {
        "task": np.asarray(task),
        "token_types": np.asarray(row["token_types"], np.int64),
        "word_batch": np.asarray(row["word_ids"], np.int64),
        "observations/ee": np.full((steps, 1), int(row["end_effector"]), np.int64),
    }
    for view in VIEWS:
        mask = row[f"prompt_mask_{view}"]
        slots = int(mask.sum(-1).max(initial=0))
        prompt = visible_first(row[f"prompt_crops_{view}"], row[f"prompt_bbox_{view}"], mask, slots)
        out |= {f"image_batch/{k}/{view}": v for k, v in prompt.items()}
        out[f"image_batch/rgb/{view}"] = row[f"prompt_frames_{view}"].astype(np.float32)
        mask = row[f"obs_mask_{view}"][:steps]
        objects = visible_first(
            row[f"obs_crops_{view}"][:steps], row[f"obs_bbox_{view}"][:steps], mask, mask.shape[-1]
        )
        out |= {f"observations/objects/{k}/{view}": v[:, None] for k, v in objects.items()}
        out[f"observations/rgb/{view}"] = row[f"obs_frames_{view}"][:steps].astype(np.float32)
    start = 0
    for key, width in POSES.items():
        out[f"actions/{key}"] = row["actions"][:steps, start : start + width].astype(np.float32)
        start += width
    return out


class Reference:
    """train_cogelot.py in CoGeLoT's interpreter: one JSON request, one JSON answer."""

    def __init__(self, python: Path, checkout: Path, log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [str(python), str(RUNNER), str(checkout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
        )

    def ask(self, **request: Any) -> dict[str, Any]:
        """Send a request, wait for its answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            tail = self.log.read_text()[-3000:]
            raise SystemExit(f"train_cogelot.py stopped ({request['op']}):\n{tail}")
        return json.loads(line)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


class Sides:
    """Both code bases with a model and the batches: ours here, CoGeLoT's in `reference`."""

    def __init__(self, reference: Reference, rows: list[dict[str, Any]], work: Path) -> None:
        self.reference = reference
        self.rows = rows
        self.vocab = load_tokenizer(None).get_vocab_size()
        self.batches: dict[int, Any] = {}
        self.folder = work / "instances"
        self.folder.mkdir(exist_ok=True)
        for i, row in enumerate(rows):
            task = Task(int(row["task"])).name
            np.savez(self.folder / f"{i:03d}.npz", **instance_arrays(row, task))
        self.models: dict[str, tuple[CogeLoTPolicy, torch.optim.Optimizer]] = {}
        self.keys: list[dict[str, Any]] = []

    def batch(self, size: int) -> Any:
        """Batch `size` (episodes round-robin): ours collated here, CoGeLoT's made there."""
        if size not in self.batches:
            chosen = [i % len(self.rows) for i in range(size)]
            self.batches[size] = collate([self.rows[i] for i in chosen], crops=True, frames=False)
            paths = [str(self.folder / f"{i:03d}.npz") for i in chosen]
            self.reference.ask(op="batch", name=str(size), instances=paths)
        return self.batches[size]

    def model(self, name: str, dropout: float, sgd_lr: float | None = None) -> None:
        """Model `name`: the network with `dropout` on both sides from the same seeded weights,
        trained by CoGeLoT's AdamW (lr 1e-4, no weight decay) or by plain SGD at `sgd_lr` (the
        checks); the optimisers' settings must agree."""
        answer = self.reference.ask(op="build", name=name, spec=their_spec(dropout), sgd_lr=sgd_lr)
        self.keys = answer["keys"]
        optimizer = self.our_model(name, dropout, sgd_lr)
        ours = json.loads(json.dumps({k: optimizer.defaults[k] for k in answer["optimizer"]}))
        if ours != answer["optimizer"] or type(optimizer).__name__ != answer["optimizer_class"]:
            raise SystemExit(f"optimisers differ: {ours} vs CoGeLoT's {answer['optimizer']}")

    def our_model(self, name: str, dropout: float, sgd_lr: float | None) -> torch.optim.Optimizer:
        """Our side of model `name` only (after a `model` call brought CoGeLoT's keys)."""
        policy = our_policy(dropout, self.keys, self.vocab)
        trained = [p for p in policy.parameters() if p.requires_grad]
        optimizer: torch.optim.Optimizer
        if sgd_lr is None:  # the AdamW of vima-train's training (fused in full precision)
            optimizer = adamw(trained, 1e-4, 0.0, "32-true")
        else:
            optimizer = torch.optim.SGD(trained, lr=sgd_lr)
        self.models[name] = (policy, optimizer)
        return optimizer

    def steps(self, side: str, model: str, size: int, threads: int, steps: int) -> dict:
        """`steps` training steps of one side: losses, wall and CPU seconds per step."""
        data = self.batch(size)
        if side == "cogelot":
            return self.reference.ask(
                op="steps", model=model, batch=str(size), threads=threads, steps=steps
            )
        torch.set_num_threads(threads)
        policy, optimizer = self.models[model]
        return timed_steps(lambda: train_step(policy, optimizer, data), steps)


def direction(size: int) -> torch.Tensor:
    """A fixed random vector of `size` (train_cogelot.py's: the same in both processes)."""
    return torch.randn(size, generator=torch.Generator().manual_seed(size))


def our_gradients(policy: CogeLoTPolicy, data: Any) -> dict[str, Any]:
    """Loss and every parameter's gradient norm of one forward and backward pass (no update)."""
    policy.zero_grad(set_to_none=True)
    loss = loss_of(policy(data), policy.targets(data))
    loss.backward()
    learning = [(n, p.grad) for n, p in policy.named_parameters() if p.grad is not None]
    norms = {n: float(g.norm()) for n, g in learning}
    projections = {n: float(g.flatten() @ direction(g.numel())) for n, g in learning}
    policy.zero_grad(set_to_none=True)
    return {"loss": float(loss.detach()), "grad_norms": norms, "grad_projections": projections}


def compare_gradients(sides: Sides, model: str, size: int) -> dict[str, Any]:
    """Loss gap and the largest relative gap of a parameter's gradient norm (the same
    parameters must get gradients) on batch `size`, from the current weights, dropout off."""
    sides.batch(size)
    ours = our_gradients(sides.models[model][0], sides.batches[size])
    theirs = sides.reference.ask(op="gradients", model=model, batch=str(size), threads=1)
    norms = {our_key(k): v for k, v in theirs["grad_norms"].items()}
    projections = {our_key(k): v for k, v in theirs["grad_projections"].items()}
    if set(norms) != set(ours["grad_norms"]):
        raise SystemExit(
            f"different parameters learn: {sorted(set(norms) ^ set(ours['grad_norms']))}"
        )
    gaps = {  # norm and projection gaps, relative to the gradient's norm
        name: max(abs(norm - norms[name]), abs(ours["grad_projections"][name] - projections[name]))
        / max(norms[name], 1e-12)
        for name, norm in ours["grad_norms"].items()
    }
    worst = max(gaps, key=gaps.__getitem__)
    return {
        "loss": [ours["loss"], theirs["loss"]],
        "loss_gap": abs(ours["loss"] - theirs["loss"]),
        "parameters_learning": len(gaps),
        "worst_gradient_gap": {"parameter": worst, "relative": gaps[worst]},
    }


def trajectories(sides: Sides, size: int, steps: int) -> dict[str, Any]:
    """Losses of `steps` steps on batch `size` from the same weights, dropout off, with SGD and
    with AdamW: ours and CoGeLoT's at one thread, and ours at two threads (the drift that two
    summation orders of one code base make). AdamW's first updates are lr x the gradient's
    sign, so rounding in a near-zero gradient moves a weight a whole step: its runs drift
    apart more than SGD's."""
    out: dict[str, Any] = {}
    for name, sgd_lr in (("sgd", SGD_LR), ("adamw", None)):
        if name not in sides.models:
            sides.model(name, 0.0, sgd_lr)
        sides.our_model(f"{name}-2", 0.0, sgd_lr)
        ours = sides.steps("ours", name, size, 1, steps)["losses"]
        theirs = sides.steps("cogelot", name, size, 1, steps)["losses"]
        two = sides.steps("ours", f"{name}-2", size, 2, steps)["losses"]
        out[name] = {
            "ours": ours,
            "cogelot": theirs,
            "ours_2_threads": two,
            "max_gap": max(abs(a - b) for a, b in zip(ours, theirs, strict=True)),
            "max_gap_ours_1_vs_2_threads": max(abs(a - b) for a, b in zip(ours, two, strict=True)),
        }
    return out


def check_equal(sides: Sides, sizes: list[int], steps: int) -> dict[str, Any]:
    """From the same weights, dropout off, one thread: per batch size the loss and every
    gradient of one pass (SystemExit unless the losses agree to `TOLERANCE` and every
    gradient to `GRADIENT_TOLERANCE`), then `trajectories` on the first batch size."""
    sides.model("sgd", 0.0, sgd_lr=SGD_LR)
    report: dict[str, Any] = {"check": "dropout 0, 1 thread", "tolerance": TOLERANCE}
    passes = [compare_gradients(sides, "sgd", size) for size in sizes]
    report |= {f"first_pass_batch_{size}": p for size, p in zip(sizes, passes, strict=True)}
    loss_gap = max(p["loss_gap"] for p in passes)
    gradient_gap = max(p["worst_gradient_gap"]["relative"] for p in passes)
    report["max_loss_gap"] = loss_gap
    report["max_gradient_gap"] = gradient_gap
    report["equal"] = loss_gap <= TOLERANCE and gradient_gap <= GRADIENT_TOLERANCE
    if report["equal"]:
        report[f"steps_batch_{sizes[0]}"] = trajectories(sides, sizes[0], steps)
    print(json.dumps(report), flush=True)
    if not report["equal"]:
        raise SystemExit(f"not equal: losses {loss_gap:.2e}, gradients {gradient_gap:.2e}")
    return report


def measure(sides: Sides, threads: int, size: int, rounds: int, steps: int) -> dict[str, Any]:
    """Paired rounds of `steps` timed steps per side (after one untimed step), dropout 0.1."""
    per_round: dict[str, list[float]] = {"ours": [], "cogelot": []}
    every: dict[str, list[float]] = {"ours": [], "cogelot": []}
    cpu: dict[str, list[float]] = {"ours": [], "cogelot": []}
    for number in range(rounds):
        order = ["ours", "cogelot"] if number % 2 == 0 else ["cogelot", "ours"]
        for side in order:
            timed = sides.steps(side, "timed", size, threads, steps + 1)
            wall = [1000 * s for s in timed["wall_s"][1:]]
            per_round[side].append(statistics.median(wall))
            every[side] += wall
            cpu[side] += timed["cpu_s"][1:]
            line = {"side": side, "threads": threads, "batch": size, "round": number}
            print(json.dumps(line | {"ms": [round(ms, 1) for ms in wall]}), flush=True)
    summary: dict[str, Any] = {"summary": True, "threads": threads, "batch": size}
    for side in ("ours", "cogelot"):
        summary[f"{side}_ms_median"] = round(statistics.median(every[side]), 1)
        summary[f"{side}_ms_round_medians"] = [round(ms, 1) for ms in per_round[side]]
        summary[f"{side}_cpu_s_median"] = round(statistics.median(cpu[side]), 3)
    summary["speedup"] = round(summary["cogelot_ms_median"] / summary["ours_ms_median"], 2)
    summary["speedup_cpu"] = round(
        summary["cogelot_cpu_s_median"] / summary["ours_cpu_s_median"], 2
    )
    summary["load_avg_1min"] = os.getloadavg()[0]
    print(json.dumps(summary), flush=True)
    return summary


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, required=True)
    parser.add_argument("--reference-python", type=Path, required=True)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per side and round")
    parser.add_argument("--check-steps", type=int, default=3)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-vs-cogelot-") as tmp:
        work = Path(tmp)
        rows = sample_rows(work)
        reference = Reference(args.reference_python, args.checkout, work / "cogelot.log")
        try:
            sides = Sides(reference, rows, work)
            header = {
                "network": SIZE | {"t5": T5, "train_last_n": TRAIN_LAST_N},
                "episodes": len(rows),
                "steps_per_episode": [int(r["steps"]) for r in rows],
                "torch": torch.__version__,
                "cpus": os.cpu_count(),
                "load_avg_1min": os.getloadavg()[0],
            }
            print(json.dumps(header), flush=True)
            check_equal(sides, args.batches, args.check_steps)
            sides.model("timed", 0.1)
            summaries = [
                measure(sides, threads, size, args.rounds, args.steps)
                for threads in args.threads
                for size in args.batches
            ]
        finally:
            reference.close()
    print("\nthreads  batch  ours ms  CoGeLoT ms  speed-up (CoGeLoT / ours: wall, CPU)")
    for s in summaries:
        ms = f"{s['ours_ms_median']:>7}  {s['cogelot_ms_median']:>10}"
        print(
            f"{s['threads']:>7}  {s['batch']:>5}  {ms}  {s['speedup']:>5}x  {s['speedup_cpu']:>5}x"
        )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
