"""Makes a reference fixture: VIMA's or CoGeLoT's own code run on real VIMA episodes with seeded
weights.

    python=$(scripts/reference/setup.sh vima|cogelot CHECKOUT)
    uv run --all-packages --all-extras python scripts/reference/make_fixture.py \
        --family vima|cogelot --reference-python "$python" --checkout CHECKOUT \
        [--episodes data/samples/vima-raw] [--out tests/train/data/FAMILY_reference.npz]

CHECKOUT is a clone of github.com/vimalabs/VIMA or github.com/amitkparekh/CoGeLoT. The episodes
are read here with the project's safe reader (no pickle is executed) and handed to run_vima.py or
run_cogelot.py as plain arrays; they build the reference network (sizes and a small T5 from
`SPECS`, weights from seeded_weights.py), prepare prompts and observations with the reference's
own functions and record every intermediate. The result (numbers only, compressed) and a JSON
sidecar of the checkpoint's keys (and, for CoGeLoT, its Lightning layout and hyper-parameters)
are what the tests compare vima-train's reference families with. The last stdout line is the
fixture.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer
from vima_schema.jpeg import decode_jpeg
from vima_schema.reader import read_episode
from vima_schema.vocabulary import PLACEHOLDER_TOKENS
from vima_tokenize.actions import pad_positions
from vima_tokenize.text import load_tokenizer

ROOT = Path(__file__).resolve().parents[2]
#: The fixtures' networks. VIMA: a cfg with embed_dim != 768 (so the prompt's post layer exists)
#: and different self- and cross-attention heads (so a swap shows), a small 768-wide T5.
#: CoGeLoT: its Hydra config (`experiment=01_their_vima`) at embed_dim 384 (CoGeLoT ties the crop
#: ViT's width and the prompt to embed_dim, so T5 is 384 wide), 2 layers, 8 / 4 heads.
_DECODER = "model.policy.transformer_decoder.vima_xattn_gpt"
#: The small T5 of the CoGeLoT fixtures (as wide as their network).
_T5_384 = {
    "vocab_size": 1536,
    "d_model": 384,
    "d_kv": 32,
    "d_ff": 256,
    "num_layers": 2,
    "num_heads": 4,
    "feed_forward_proj": "relu",
}
SPECS = {
    "vima": {
        "runner": "run_vima.py",
        "cfg": {"embed_dim": 256, "xf_n_layers": 2, "sattn_n_heads": 8, "xattn_n_heads": 4},
        "t5": {
            "vocab_size": 1536,
            "d_model": 768,
            "d_kv": 32,
            "d_ff": 256,
            "num_layers": 2,
            "num_heads": 4,
            "feed_forward_proj": "relu",
        },
    },
    "cogelot-concat": {
        "runner": "run_cogelot.py",
        "overrides": [
            "experiment=08_their_gpt",
            "output_dir=/tmp/cogelot-fixture",
            "model.policy.embed_dim=384",
            "model.policy.transformer_decoder.vima_hf_gpt.n_layer=2",
            "model.policy.transformer_decoder.vima_hf_gpt.n_head=8",
        ],
        "t5": _T5_384,
    },
    "cogelot-patches": {
        "runner": "run_cogelot.py",
        "overrides": [
            "experiment=01_their_vima_patches",
            "output_dir=/tmp/cogelot-fixture",
            "model.policy.embed_dim=384",
            f"{_DECODER}.n_layer=2",
            f"{_DECODER}.n_head=8",
            f"{_DECODER}.xattn_n_head=4",
        ],
        "t5": _T5_384,
    },
    "cogelot": {
        "runner": "run_cogelot.py",
        "overrides": [
            "experiment=01_their_vima",
            "output_dir=/tmp/cogelot-fixture",
            "model.policy.embed_dim=384",
            f"{_DECODER}.n_layer=2",
            f"{_DECODER}.n_head=8",
            f"{_DECODER}.xattn_n_head=4",
        ],
        "t5": _T5_384,
    },
}
VIEWS = ("front", "top")
KEYS = ("pose0_position", "pose0_rotation", "pose1_position", "pose1_rotation")
POSITION_LOW, POSITION_HIGH = np.float32([0.25, -0.5]), np.float32([0.75, 0.5])


def normalised_actions(episode: object) -> dict[str, np.ndarray]:
    """Actions in [0, 1] as VIMA's training data holds them: 2-D positions by the action bounds,
    rotations `(q + 1) / 2`."""
    out = {}
    for key in KEYS:
        values = np.asarray(getattr(episode.actions, key), dtype=np.float32)  # type: ignore[attr-defined]
        if key.endswith("position"):
            out[key] = (values[:, :2] - POSITION_LOW) / (POSITION_HIGH - POSITION_LOW)
        else:
            out[key] = (values + np.float32(1)) / np.float32(2)
    return out


def export(folder: Path, index: int, target: Path, tokenizer: Tokenizer) -> str:
    """Write one episode's arrays and prompt for run_vima.py; returns its name."""
    episode = read_episode(folder)
    steps = episode.steps
    arrays: dict[str, np.ndarray] = {"ee": np.asarray(episode.ee[:steps], dtype=np.int64)}
    for view in VIEWS:
        arrays[f"rgb/{view}"] = np.stack([decode_jpeg(f) for f in episode.frames[view][:steps]])
        arrays[f"segm/{view}"] = np.asarray(episode.segm[view][:steps])
    assets = {}
    for name, asset in episode.prompt_assets.items():
        for view in VIEWS:
            arrays[f"asset/{name}/rgb/{view}"] = np.asarray(asset.rgb[view])
            arrays[f"asset/{name}/segm/{view}"] = np.asarray(asset.segm[view])
        assets[name] = {
            "placeholder_type": asset.placeholder_type.value,
            "obj_info": [o.model_dump() for o in asset.obj_info],
        }
    arrays |= {f"action/{k}": v for k, v in normalised_actions(episode).items()}
    for key in KEYS:  # CoGeLoT reads the stored actions, 3-D positions
        values = np.asarray(getattr(episode.actions, key), dtype=np.float32)
        arrays[f"raw_action/{key}"] = (
            pad_positions(values)[0] if key.endswith("position") else values
        )
    name = f"{episode.task.name}/{episode.index:06d}"
    encoding = tokenizer.encode(episode.prompt, add_special_tokens=True)
    meta = {
        "name": name,
        "prompt": episode.prompt,
        "assets": assets,
        "objects": [int(i) for i in episode.objects],
        "keys": list(KEYS),
        "ids": encoding.ids,
        "tokens": encoding.tokens,
        "placeholders": list(PLACEHOLDER_TOKENS),
    }
    np.savez(target / f"{index:03d}.npz", **arrays)
    (target / f"{index:03d}.json").write_text(json.dumps(meta))
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(SPECS), default="vima")
    parser.add_argument("--reference-python", required=True, type=Path)
    parser.add_argument("--checkout", required=True, type=Path)
    parser.add_argument("--episodes", type=Path, default=ROOT / "data/samples/vima-raw")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    family, spec = args.family, SPECS[args.family]
    out = args.out or ROOT / f"tests/train/data/{family.replace('-', '_')}_reference.npz"
    folders = sorted(p for p in args.episodes.glob("*/[0-9]*") if p.is_dir())
    with tempfile.TemporaryDirectory(prefix=f"{family}-fixture-") as tmp:
        work = Path(tmp)
        (work / "episodes").mkdir()
        (work / "spec.json").write_text(json.dumps(spec))
        tokenizer = load_tokenizer(None)
        names = [
            export(folder, i, work / "episodes", tokenizer) for i, folder in enumerate(folders)
        ]
        runner = Path(__file__).with_name(spec["runner"])
        subprocess.run(
            [str(args.reference_python), str(runner), tmp, str(args.checkout)], check=True
        )
        with np.load(work / "reference.npz") as data:
            arrays = {k: data[k] for k in data.files}
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(".partial.npz")
        np.savez_compressed(partial, **arrays)
        sidecar = {
            "spec": spec,
            "episodes": names,
            "keys": json.loads((work / "keys.json").read_text()),
        }
        if (work / "layout.json").exists():
            sidecar["layout"] = json.loads((work / "layout.json").read_text())
        out.with_suffix(".json").write_text(json.dumps(sidecar, indent=1) + "\n")
        partial.replace(out)
        if "VIMA_FIXTURE_KEEP" in os.environ:
            shutil.copy(work / "reference.ckpt", out.with_suffix(".ckpt"))
    print(f"make_fixture.py: {len(names)} episodes, {out.stat().st_size} bytes", file=sys.stderr)
    print(out)


if __name__ == "__main__":
    main()
