"""Training steps of CoGeLoT's own code, driven over a pipe by
packages/vima-train/bench/bench_train_vs_cogelot.py.

    python train_cogelot.py CHECKOUT      # the interpreter of `setup.sh cogelot CHECKOUT`

Requests come as JSON lines on stdin, one JSON line answers each on stdout (everything else the
libraries print goes to stderr):
- `{"op": "build", "name": N, "spec": SPEC}`: model N is CoGeLoT's `VIMALightningModule` as its
  Hydra config builds it (run_cogelot.build_model: `SPEC["overrides"]`, T5 from `SPEC["t5"]`,
  seeded weights), in train mode, with the optimiser of its config (`optimizer_partial_fn`:
  AdamW, lr 1e-4, no weight decay) or, given `"sgd_lr"`, plain SGD. Answer: every state-dict
  key (run_cogelot.state_keys) and the optimiser's class and settings.
- `{"op": "batch", "name": B, "instances": [PATH, ...]}`: batch B is CoGeLoT's
  `PreprocessedBatch` of those instances (`.npz` files of `PreprocessedInstance` fields written
  by the benchmark), made by its own `collate_preprocessed_instances`.
- `{"op": "steps", "model": N, "batch": B, "threads": T, "steps": S}`: S training steps; answer
  `losses`, `wall_s` and `cpu_s` per step.
- `{"op": "gradients", "model": N, "batch": B, "threads": T}`: the loss, and the norm and a
  random projection (`direction`) of every parameter's gradient (by CoGeLoT's name), of one
  forward and backward pass; nothing is updated.

A training step is CoGeLoT's `training_step` (embed_inputs, forward, prepare_target_actions,
compute_fine_grained_loss, reduce_fine_grained_loss: its functions, called in its order) without
its metrics and logging, then what its Lightning trainer does: zero the gradients, backward,
`gradient_clip_val: 1.0` (clip by norm), the optimiser step.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from run_cogelot import build_model
from seeded_weights import state_keys

GRADIENT_CLIP = 1.0  # CoGeLoT's configs/trainer/default.yaml


def nested(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, Any]:
    """The `prefix/a/b` arrays as `{"a": {"b": tensor}}`."""
    out: dict[str, Any] = {}
    for key, value in arrays.items():
        if not key.startswith(prefix + "/"):
            continue
        *parents, leaf = key[len(prefix) + 1 :].split("/")
        level = out
        for part in parents:
            level = level.setdefault(part, {})
        level[leaf] = torch.from_numpy(value)
    return out


def load_instance(path: Path) -> Any:
    """A `PreprocessedInstance` from the benchmark's `.npz` of its fields."""
    from cogelot.structures.model import PreprocessedInstance

    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    return PreprocessedInstance(
        task=str(arrays.pop("task")),
        raw_prompts_token_type=[arrays.pop("token_types").tolist()],
        word_batch=torch.from_numpy(arrays.pop("word_batch")),
        image_batch=nested(arrays, "image_batch"),
        observations=nested(arrays, "observations"),
        actions=nested(arrays, "actions"),
    )


def training_loss(model: Any, batch: Any) -> torch.Tensor:
    """The loss of CoGeLoT's `training_step` on `batch` (its functions, in its order)."""
    from cogelot.nn.loss import compute_fine_grained_loss, reduce_fine_grained_loss

    prepared = model.embed_inputs(batch)
    predicted = model.forward(prepared)
    targets = model.prepare_target_actions(batch)
    fine = compute_fine_grained_loss(
        predicted, targets, ignore_target_index=model.ignore_target_index
    )
    return reduce_fine_grained_loss(fine)


def train_step(model: Any, optimizer: torch.optim.Optimizer, batch: Any) -> torch.Tensor:
    """One step of CoGeLoT's training on `batch` (see the module docstring)."""
    loss = training_loss(model, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    torch.nn.utils.clip_grad_norm_(parameters, GRADIENT_CLIP)
    optimizer.step()
    return loss.detach()


def gradients(model: Any, batch: Any) -> dict[str, Any]:
    """Loss, and norm and projection on `direction` of every parameter's gradient (before
    clipping) of `batch`; nothing is updated."""
    model.zero_grad(set_to_none=True)
    loss = training_loss(model, batch)
    loss.backward()
    learning = [(n, p.grad) for n, p in model.policy.named_parameters() if p.grad is not None]
    norms = {n: float(g.norm()) for n, g in learning}
    projections = {n: float(g.flatten() @ direction(g.numel())) for n, g in learning}
    model.zero_grad(set_to_none=True)
    return {"loss": float(loss.detach()), "grad_norms": norms, "grad_projections": projections}


def direction(size: int) -> torch.Tensor:
    """A fixed random vector of `size` (the same in any process of this torch version)."""
    return torch.randn(size, generator=torch.Generator().manual_seed(size))


def run_steps(model: Any, optimizer: torch.optim.Optimizer, batch: Any, steps: int) -> dict:
    """`steps` timed training steps: losses, wall and CPU seconds per step."""
    losses, wall, cpu = [], [], []
    for _ in range(steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = train_step(model, optimizer, batch)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
        losses.append(float(loss))
    return {"losses": losses, "wall_s": wall, "cpu_s": cpu}


def serve(checkout: Path, answers: Any) -> None:
    """Answer the requests of stdin until it closes."""
    from cogelot.data.collate import collate_preprocessed_instances

    models: dict[str, tuple[Any, torch.optim.Optimizer]] = {}
    batches: dict[str, Any] = {}
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "build":
            model, _ = build_model(request["spec"], checkout)
            model.train()
            if request.get("sgd_lr") is None:  # its config's AdamW
                optimizer = model._optimizer_partial_fn(model.parameters())
            else:
                optimizer = torch.optim.SGD(model.parameters(), lr=request["sgd_lr"])
            models[request["name"]] = (model, optimizer)
            answer: dict[str, Any] = {
                "keys": state_keys(model.policy),
                "optimizer_class": type(optimizer).__name__,
                "optimizer": {
                    k: v
                    for k, v in optimizer.defaults.items()
                    if isinstance(v, int | float | tuple)
                },
            }
        elif op == "batch":
            instances = [load_instance(Path(p)) for p in request["instances"]]
            batches[request["name"]] = collate_preprocessed_instances(instances)
            answer = {"size": len(instances)}
        elif op == "gradients":
            torch.set_num_threads(request["threads"])
            answer = gradients(models[request["model"]][0], batches[request["batch"]])
        elif op == "steps":
            torch.set_num_threads(request["threads"])
            model, optimizer = models[request["model"]]
            answer = run_steps(model, optimizer, batches[request["batch"]], request["steps"])
        else:
            raise ValueError(f"unknown request {op!r}")
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main() -> None:
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the libraries print goes to stderr, not into the answers
    serve(Path(sys.argv[1]), answers)


if __name__ == "__main__":
    main()
