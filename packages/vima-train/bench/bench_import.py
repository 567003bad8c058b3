"""vima-train benchmark: importing a full-size VIMA-200M checkpoint, and loading it to evaluate.

    uv run --all-packages --all-extras python packages/vima-train/bench/bench_import.py [--out DIR]

Makes VIMA-200M's checkpoint in VIMA's file format with random weights (cfg 768/11/24/24, the
t5-base architecture, every one of its 551 keys; the same bytes as a real 200M.ckpt in size),
then runs `vima-train import` on it in a fresh process and reads that process's wall time and
peak resident memory; then `vima-train export` of the result, and `load_policy` of the imported
checkpoint and of the exported folder (the start of every evaluation). Figures go to stdout;
target: import <= 30 s with peak memory <= 2.5x the file size.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from vima_tokenize.text import load_tokenizer
from vima_train.config import load_preset
from vima_train.model.prompt import KNOWN_T5
from vima_train.policies import build_policy

CFG = {"embed_dim": 768, "xf_n_layers": 11, "sattn_n_heads": 24, "xattn_n_heads": 24}


def make_vima_file(path: Path, vocab: int) -> int:
    """VIMA-200M with random weights in VIMA's format; returns the file size."""
    config = load_preset("vima-200m").model
    prompt = config.prompt_encoder.model_copy(
        update={"t5_path": None, "t5_config": KNOWN_T5["t5-base"]}
    )
    torch.manual_seed(0)
    policy = build_policy(config.model_copy(update={"prompt_encoder": prompt}), vocab)
    state = {f"policy.{k}": v for k, v in policy.state_dict().items()}
    torch.save({"cfg": CFG, "state_dict": state}, path)
    return path.stat().st_size


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of the child and its last stdout line."""
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="Folder (default: a temp dir).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        root = args.out or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        tokenizer = root / "tokenizer.json"
        words = load_tokenizer(None)
        words.save(str(tokenizer))
        source = root / "200M.ckpt"
        start = time.perf_counter()
        size = make_vima_file(source, words.get_vocab_size())
        print(f"made VIMA-200M file: {size / 1e9:.2f} GB in {time.perf_counter() - start:.1f} s")
        tool = [sys.executable, "-m", "vima_train"]
        imported = root / "imported.ckpt"
        seconds, peak, _ = timed(
            [*tool, "import", str(source), "--out", str(imported), "--tokenizer", str(tokenizer)]
        )
        ratio = peak * 1e6 / size
        print(
            f"import: {seconds:.1f} s, peak RSS {peak:.0f} MB = {ratio:.2f}x the file "
            "(target <= 30 s, <= 2.5x)"
        )
        seconds, peak, folder = timed(
            [*tool, "export", str(imported), "--out", str(root / "folder")]
        )
        print(f"export: {seconds:.1f} s, peak RSS {peak:.0f} MB (max over children so far)")
        weights = Path(folder) / "model.safetensors"
        print(f"folder: model.safetensors {weights.stat().st_size / 1e9:.2f} GB")
        for what, path in (("checkpoint", imported), ("folder", Path(folder))):
            code = (
                "import time, resource, sys; from vima_train.checkpoint import load_policy; "
                f"t = time.perf_counter(); p = load_policy({str(path)!r}); "
                "print(time.perf_counter() - t, "
                "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
            )
            out = subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True
            ).stdout.split()
            print(f"load_policy({what}): {float(out[0]):.1f} s, peak RSS {float(out[1]):.0f} MB")
        print(json.dumps({"file_bytes": size}))


if __name__ == "__main__":
    main()
