"""Policy folders for sharing (`vima-train export`): `config.json`, `model.safetensors`,
`tokenizer.json` and a model card `README.md`, the way the Hugging Face Hub and LeRobot share
policies. Weights only (no optimiser state); every command that takes a checkpoint takes one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

FOLDER_FORMAT = "vima-train-policy"
FOLDER_VERSION = 1
CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE, CARD_FILE = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "README.md",
)


def is_policy_folder(path: Path) -> bool:
    """Whether `path` is a folder written by `export_folder`."""
    return path.is_dir() and (path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def tied_keys(state: dict[str, torch.Tensor]) -> dict[str, str]:
    """Keys whose tensor is the same memory as an earlier key's (`key -> earlier key`)."""
    seen: dict[tuple[int, int, tuple[int, ...], tuple[int, ...]], str] = {}
    tied = {}
    for key, tensor in state.items():
        if tensor.device.type == "meta" or tensor.numel() == 0:
            continue
        ident = (
            tensor.untyped_storage().data_ptr(),
            tensor.storage_offset(),
            tuple(tensor.shape),
            tuple(tensor.stride()),
        )
        if ident in seen:
            tied[key] = seen[ident]
        else:
            seen[ident] = key
    return tied


def model_card(meta: dict[str, Any], parameters: int) -> str:
    """The folder's README.md: what the policy is, where it came from, how to use it."""
    config = meta["config"]
    model = config["model"]
    family = model.get("family", "vima-train")
    imported = meta.get("imported")
    source = (
        f"Imported from `{Path(imported['source']).name}` (SHA-256 `{imported['sha256']}`), "
        f"{imported.get('family', 'vima')} cfg `{imported['cfg']}`."
        if imported
        else f"Trained with vima-train for {meta['global_step']} steps on `{meta.get('dataset')}`."
    )
    return "\n".join(
        [
            "---",
            "library_name: vima-train",
            "tags: [robotics, vima, vima-bench, multimodal-prompts]",
            "---",
            "",
            f"# {config['preset']} ({family} network)",
            "",
            config.get("description", ""),
            "",
            f"- Network family: `{family}`; {parameters / 1e6:.1f} M parameters (T5 included); "
            f"{meta['action_axes']} action axes.",
            f"- {source}",
            f"- Tokenizer SHA-256 `{meta['tokenizer_sha256']}` (`{TOKENIZER_FILE}`).",
            "",
            "## Use",
            "",
            "```bash",
            "vima-eval online THIS_FOLDER --levels L1,L2,L3,L4 --episodes 100 --out online",
            "vima-train inspect THIS_FOLDER",
            "```",
            "",
            "`config.json` holds the full vima-train run config and metadata; the weights are in",
            f"`{WEIGHTS_FILE}` (tied tensors stored once, listed under `tied`).",
            "",
        ]
    )


def export_folder(checkpoint: dict[str, Any], meta_key: str, out: Path) -> Path:
    """Write `checkpoint` (as `read_checkpoint` returns it) as a policy folder `out`, atomically
    (a temporary sibling folder renamed into place; an existing `out` is replaced)."""
    from safetensors.torch import save_file

    state = {
        k.removeprefix("policy."): v
        for k, v in checkpoint["state_dict"].items()
        if k.startswith("policy.")
    }
    tied = tied_keys(state)
    tensors = {k: v.contiguous() for k, v in state.items() if k not in tied}
    meta = dict(checkpoint[meta_key])
    tokenizer_json = meta.pop("tokenizer_json")
    parameters = sum(v.numel() for v in tensors.values())
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        save_file(tensors, str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
        document = {
            "format": FOLDER_FORMAT,
            "version": FOLDER_VERSION,
            "tied": tied,
            meta_key: meta,
        }
        (staging / CONFIG_FILE).write_text(json.dumps(document, indent=1) + "\n")
        (staging / TOKENIZER_FILE).write_text(tokenizer_json)
        (staging / CARD_FILE).write_text(model_card(checkpoint[meta_key], parameters))
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def read_folder(path: Path, meta_key: str) -> dict[str, Any]:
    """A policy folder as a checkpoint dict (`state_dict` with `policy.` keys, metadata)."""
    from safetensors.torch import load_file

    document = json.loads((path / CONFIG_FILE).read_text())
    if document.get("format") != FOLDER_FORMAT or document.get("version") != FOLDER_VERSION:
        raise ValueError(
            f"{path / CONFIG_FILE}: format {document.get('format')!r} version "
            f"{document.get('version')!r}, expected {FOLDER_FORMAT!r} {FOLDER_VERSION}"
        )
    state = load_file(str(path / WEIGHTS_FILE))
    state |= {key: state[source] for key, source in document["tied"].items()}
    meta = {**document[meta_key], "tokenizer_json": (path / TOKENIZER_FILE).read_text()}
    return {"state_dict": {f"policy.{k}": v for k, v in state.items()}, meta_key: meta}
