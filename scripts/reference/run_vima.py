"""Runs VIMA's own code on exported episodes and records its inputs and outputs.

Run by make_fixture.py with the interpreter of `scripts/reference/setup.sh vima CHECKOUT`:
    python run_vima.py WORK CHECKOUT
WORK holds `spec.json` (VIMA cfg, T5 config) and `episodes/NNN.npz` + `episodes/NNN.json`;
this writes `WORK/reference.npz` (per episode `eNNN/...` arrays), `WORK/keys.json` (every
state-dict key: shape, parameter or buffer, the name its seeded weights are drawn under) and
`WORK/reference.ckpt` (the checkpoint in VIMA's file format).

Nothing of VIMA's is copied: the policy is VIMA's `VIMAPolicy`, and prompt and observation
preparation are the functions of the checkout's `scripts/example.py`, compiled from its source
(the file itself imports VIMA-Bench and gym at the top, which this environment does not have).
T5 is built from a `T5Config` instead of `from_pretrained("t5-base")` (no network), and every
parameter gets the seeded weights of seeded_weights.py.
"""

from __future__ import annotations

import ast
import importlib
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch
import transformers
import transformers.models.t5.modeling_t5 as modeling_t5

# VIMA's prompt encoder imports `checkpoint` from modeling_t5, which transformers 4.35 moved.
modeling_t5.checkpoint = torch.utils.checkpoint.checkpoint  # type: ignore[attr-defined]
if not hasattr(np, "bool"):  # example.py uses np.bool (numpy < 1.24 and >= 2 have it)
    np.bool = np.bool_  # type: ignore[attr-defined]

sys.path.insert(0, str(Path(__file__).parent))
from seeded_weights import seeded_array, state_keys  # noqa: E402

VIEWS = ["front", "top"]


class Encodings:
    """Stands in for example.py's t5-base tokenizer: the encodings of the exported prompts,
    made by the project's tokenizer (whose file format this environment's `tokenizers` may not
    read)."""

    def __init__(self) -> None:
        self.known: dict[str, types.SimpleNamespace] = {}

    def add(self, prompt: str, ids: list[int], tokens: list[str]) -> None:
        self.known[prompt] = types.SimpleNamespace(ids=ids, tokens=tokens)

    def encode(self, prompt: str, add_special_tokens: bool = True) -> types.SimpleNamespace:
        assert add_special_tokens, "example.py encodes with special tokens"
        return self.known[prompt]


def example_functions(checkout: Path) -> dict[str, object]:
    """`prepare_prompt`, `prepare_obs` and the placeholder tokens of VIMA's scripts/example.py,
    compiled from its source with `Encodings` in place of t5-base's tokenizer."""
    import cv2
    import einops
    import tokenizers
    import vima.utils

    tree = ast.parse((checkout / "scripts" / "example.py").read_text())
    wanted = {"_kwargs", "PLACEHOLDER_TOKENS", "PLACEHOLDERS", "prepare_prompt", "prepare_obs"}
    body = []
    for node in tree.body:
        names = (
            [t.id for t in node.targets if isinstance(t, ast.Name)]
            if isinstance(node, ast.Assign)
            else [node.name]
            if isinstance(node, ast.FunctionDef)
            else []
        )
        if wanted.intersection(names):
            body.append(node)
    namespace: dict[str, object] = {
        "np": np,
        "cv2": cv2,
        "torch": torch,
        "rearrange": einops.rearrange,
        "AddedToken": tokenizers.AddedToken,
        **{name: getattr(vima.utils, name) for name in vima.utils.__all__},
    }
    exec(compile(ast.Module(body=body, type_ignores=[]), "example.py", "exec"), namespace)
    namespace["tokenizer"] = Encodings()
    return namespace


def build_policy(spec: dict) -> torch.nn.Module:
    """VIMA's `VIMAPolicy(**cfg)` with T5 built from `spec['t5']` and seeded weights."""
    prompt_encoder = importlib.import_module("vima.nn.prompt_encoder.prompt_encoder")
    word_embd = importlib.import_module("vima.nn.prompt_encoder.word_embd")

    config = transformers.T5Config(**spec["t5"])

    def from_config(cls: type, name: str) -> object:
        return cls(config)

    prompt_encoder.T5EncoderModel.from_pretrained = classmethod(from_config)
    word_embd.AutoModel = types.SimpleNamespace(
        from_pretrained=lambda name: prompt_encoder.T5EncoderModel(config)
    )
    from vima.policy import VIMAPolicy

    torch.manual_seed(0)
    policy = VIMAPolicy(**spec["cfg"])
    with torch.no_grad():
        for name, parameter in policy.named_parameters():
            parameter.copy_(torch.from_numpy(seeded_array(name, tuple(parameter.shape))))
    return policy.eval()


def run_episode(policy: torch.nn.Module, fns: dict, arrays: dict, meta: dict) -> dict:
    """Teacher-forced pass over one episode with VIMA's preparation; inputs and outputs."""
    assets = {}
    for name, asset in meta["assets"].items():
        info = asset["obj_info"]
        assets[name] = {
            "rgb": {v: arrays[f"asset/{name}/rgb/{v}"] for v in VIEWS},
            "segm": {
                **{v: arrays[f"asset/{name}/segm/{v}"] for v in VIEWS},
                "obj_info": info[0] if asset["placeholder_type"] == "object" else info,
            },
            "placeholder_type": asset["placeholder_type"],
        }
    types_, words, images = fns["prepare_prompt"](
        prompt=meta["prompt"], prompt_assets=assets, views=VIEWS
    )
    images = images.to_torch_tensor()
    steps = len(arrays["ee"])
    obs = {
        "rgb": {v: arrays[f"rgb/{v}"] for v in VIEWS},
        "segm": {v: arrays[f"segm/{v}"] for v in VIEWS},
        "ee": arrays["ee"],
    }
    info = {"n_objects": len(meta["objects"]), "obj_id_to_info": {i: {} for i in meta["objects"]}}
    obs = fns["prepare_obs"](obs=obs, rgb_dict=None, meta=info).to_torch_tensor()
    normalised = {k: torch.from_numpy(arrays[f"action/{k}"]).unsqueeze(1) for k in meta["keys"]}
    with torch.no_grad():
        prompt_tokens, prompt_mask = policy.forward_prompt_assembly((types_, words, images))
        obs_tokens, obs_mask = policy.forward_obs_token(obs)
        bins = policy.discretize_action({k: v.clone() for k, v in normalised.items()})
        action_tokens = policy.forward_action_token(bins)
        out = policy.forward(
            obs_token=obs_tokens,
            obs_mask=obs_mask,
            action_token=action_tokens,
            prompt_token=prompt_tokens,
            prompt_token_mask=prompt_mask,
        )
        logits = np.full((steps, 12, 100), np.nan, dtype=np.float32)
        axis = 0
        for net in policy.action_decoder._decoders.values():
            for mlp in net.mlps:
                values = mlp(out[:, 0]).numpy()
                logits[:, axis, : values.shape[-1]] = values
                axis += 1
    record = {
        "token_types": np.asarray(types_[0], dtype=np.int64),
        "word_ids": words.numpy().astype(np.int64),
        "action_bins": np.concatenate([bins[k][:, 0].numpy() for k in meta["keys"]], axis=-1),
        "ee": obs["ee"][:, 0].numpy().astype(np.int64),
        "prompt_tokens": prompt_tokens[:, 0].numpy(),
        "prompt_mask": prompt_mask[0].numpy(),
        "obs_tokens": obs_tokens[:, 0].numpy(),
        "obs_mask": obs_mask[:, 0].numpy(),
        "decoder_out": out[:, 0].numpy(),
        "logits": logits,
    }
    for view in VIEWS:
        record[f"prompt_crops/{view}"] = images["cropped_img"][view].numpy().astype(np.uint8)
        record[f"prompt_bbox/{view}"] = images["bbox"][view].numpy().astype(np.int64)
        record[f"prompt_objmask/{view}"] = images["mask"][view].numpy()
        objects = obs["objects"]
        record[f"obs_crops/{view}"] = objects["cropped_img"][view][:, 0].numpy().astype(np.uint8)
        record[f"obs_bbox/{view}"] = objects["bbox"][view][:, 0].numpy().astype(np.int64)
        record[f"obs_objmask/{view}"] = objects["mask"][view][:, 0].numpy()
    return record


def main() -> None:
    work, checkout = Path(sys.argv[1]), Path(sys.argv[2])
    spec = json.loads((work / "spec.json").read_text())
    fns = example_functions(checkout)
    policy = build_policy(spec)
    results: dict[str, np.ndarray] = {}
    for meta_file in sorted((work / "episodes").glob("*.json")):
        meta = json.loads(meta_file.read_text())
        fns["tokenizer"].add(meta["prompt"], meta["ids"], meta["tokens"])  # type: ignore[attr-defined]
        with np.load(meta_file.with_suffix(".npz")) as data:
            arrays = {k: data[k] for k in data.files}
        record = run_episode(policy, fns, arrays, meta)
        results |= {f"e{meta_file.stem}/{k}": v for k, v in record.items()}
        print(f"run_vima.py: {meta['name']}: {len(arrays['ee'])} steps", file=sys.stderr)
    np.savez(work / "reference.npz", **results)
    (work / "keys.json").write_text(json.dumps(state_keys(policy)))
    state = {f"policy.{k}": v for k, v in policy.state_dict().items()}
    torch.save({"cfg": spec["cfg"], "state_dict": state}, work / "reference.ckpt")


if __name__ == "__main__":
    main()
