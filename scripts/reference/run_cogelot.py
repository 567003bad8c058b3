"""Runs CoGeLoT's own code on exported episodes and records its inputs and outputs.

Run by make_fixture.py with the interpreter of `scripts/reference/setup.sh cogelot CHECKOUT`:
    python run_cogelot.py WORK CHECKOUT
WORK holds `spec.json` (Hydra overrides, T5 config) and `episodes/NNN.npz` + `episodes/NNN.json`;
this writes `WORK/reference.npz` (per episode `eNNN/...` arrays), `WORK/keys.json` (every
state-dict key: shape, parameter or buffer, the name its seeded weights are drawn under),
`WORK/layout.json` (the checkpoint's top-level keys and its `hyper_parameters`) and
`WORK/reference.ckpt` (the checkpoint as CoGeLoT's training writes it: a Lightning checkpoint,
weights only, with the flattened Hydra config as hyper-parameters).

Nothing of CoGeLoT's is copied: the model is the one its Hydra config builds
(`configs/train.yaml` with `experiment=01_their_vima`, the spec's size overrides), the inputs are
prepared by the functions its `InstancePreprocessor` calls (the vendored `vima.prepare_prompt`
and `vima.prepare_obs`, with the object ids CoGeLoT passes them) and the forward pass is the one
its online evaluation runs (`embed_multimodal_prompt`, `encode_prompt`,
`encode_observation_token`, `encode_action_tokens`, `predict_action_logits`). T5 is built from a
`T5Config` instead of `from_pretrained("t5-base")` (no network), and every parameter gets the
seeded weights of seeded_weights.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
import transformers.models.t5.modeling_t5 as modeling_t5

modeling_t5.checkpoint = torch.utils.checkpoint.checkpoint  # type: ignore[attr-defined]

sys.path.insert(0, str(Path(__file__).parent))
from seeded_weights import seeded_array, state_keys  # noqa: E402

VIEWS = ["front", "top"]
KEYS = ("pose0_position", "pose0_rotation", "pose1_position", "pose1_rotation")


class Encodings:
    """Stands in for CoGeLoT's t5-base tokenizer: the encodings of the exported prompts, made by
    the project's tokenizer (same ids and tokens as t5-base with VIMA's placeholders)."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[list[int], list[str]]] = {}

    def add(self, prompt: str, ids: list[int], tokens: list[str]) -> None:
        self.known[prompt] = (ids, tokens)

    def __call__(self, prompt: str, add_special_tokens: bool = True) -> object:
        assert add_special_tokens, "CoGeLoT encodes with special tokens"
        ids, tokens = self.known[prompt]
        return _Encoding(ids, tokens)


class _Encoding(dict):
    """A tokenizer call's result: `["input_ids"]` and `.tokens()`."""

    def __init__(self, ids: list[int], tokens: list[str]) -> None:
        super().__init__(input_ids=ids)
        self._tokens = tokens

    def tokens(self) -> list[str]:
        return self._tokens


def patch_t5(config: transformers.T5Config) -> None:
    """CoGeLoT's T5 modules from `config` instead of `from_pretrained("t5-base")`."""
    from cogelot.modules import text_encoders

    def embedder_init(self: torch.nn.Module, pretrained_model: str) -> None:
        torch.nn.Module.__init__(self)
        model = transformers.T5EncoderModel(config)
        weight = model.get_input_embeddings().weight.data
        self._embed_layer = torch.nn.Embedding.from_pretrained(weight)
        self.output_dim = weight.shape[1]

    text_encoders.T5TextEmbedder.__init__ = embedder_init
    text_encoders.T5PromptEncoder.from_pretrained = classmethod(
        lambda cls, pretrained_model_name_or_path: cls(config)
    )


def build_model(spec: dict, checkout: Path) -> tuple[torch.nn.Module, dict]:
    """CoGeLoT's `VIMALightningModule` from its Hydra config, seeded weights, and the flattened
    config its training saves as hyper-parameters."""
    import hydra
    from cogelot.common.config import flatten_config
    from hydra import compose, initialize_config_dir

    patch_t5(transformers.T5Config(**spec["t5"]))
    with initialize_config_dir(config_dir=str(checkout / "configs"), version_base="1.3"):
        config = compose("train.yaml", overrides=spec["overrides"])
    torch.manual_seed(0)
    model = hydra.utils.instantiate(config.model)
    with torch.no_grad():
        for name, parameter in model.policy.named_parameters():
            parameter.copy_(torch.from_numpy(seeded_array(name, tuple(parameter.shape))))
    model.save_hyperparameters(flatten_config(config))
    return model.eval(), config


def save_lightning(model: torch.nn.Module, path: Path) -> dict:
    """The checkpoint as CoGeLoT's ModelCheckpoint callback writes it (weights only)."""
    import pytorch_lightning as pl

    trainer = pl.Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.strategy.connect(model)
    trainer.save_checkpoint(path, weights_only=True)
    saved = torch.load(path, map_location="cpu", weights_only=False)
    hparams = {k: v for k, v in saved["hyper_parameters"].items()}
    return {"top_level": sorted(saved), "hyper_parameters": hparams}


def asset_object_ids(arrays: dict, name: str) -> set[int]:
    """`Asset.object_ids` of CoGeLoT: the segmentation's ids less {0, 1}."""
    segm = [arrays[f"asset/{name}/segm/{v}"] for v in VIEWS]
    return set(np.unique(segm).tolist()) - {0, 1}


def prepared_inputs(arrays: dict, meta: dict, tokenizer: Encodings) -> tuple:
    """Prompt and observations as CoGeLoT's InstancePreprocessor and its online evaluation
    prepare them (batch of one)."""
    from cogelot.modules.instance_preprocessor import _resize_image
    from vima.prepare_obs import prepare_obs
    from vima.prepare_prompt import prepare_prompt

    names = list(meta["assets"])
    assets = {
        name: {
            "rgb": {v: torch.from_numpy(arrays[f"asset/{name}/rgb/{v}"]) for v in VIEWS},
            "segm": {v: torch.from_numpy(arrays[f"asset/{name}/segm/{v}"]) for v in VIEWS},
        }
        for name in names
    }
    all_ids = set.union(*(asset_object_ids(arrays, n) for n in names))
    types_, words, images = prepare_prompt(
        prompt=meta["prompt"],
        prompt_assets=assets,
        views=list({"front", "top"}),
        tokenizer=tokenizer,
        placeholders=meta["placeholders"],
        all_object_ids=all_ids,
    )
    obs = {
        "ee": arrays["ee"],
        "rgb": {v: arrays[f"rgb/{v}"] for v in VIEWS},
        "segm": {v: arrays[f"segm/{v}"] for v in VIEWS},
    }
    objects = list(set(meta["objects"]))
    prepared = prepare_obs(obs=obs, object_ids=objects)
    # the frames CoGeLoT's patches encoder reads (InstancePreprocessor.prepare_observations)
    prepared["rgb"] = {v: torch.from_numpy(_resize_image(arrays[f"rgb/{v}"])) for v in VIEWS}
    batched = prepared.map_structure(lambda x: x.unsqueeze(0))
    words = words.unsqueeze(0)
    images = images.map_structure(lambda x: x.unsqueeze(0))
    return types_, words, images, batched, objects, list(all_ids)


def spec_uses_patches(model: torch.nn.Module) -> bool:
    """Whether the model reads whole frames (CoGeLoT's patches encoder), not object crops."""
    return bool(getattr(model.policy._obj_encoder, "is_patches", False))


def run_episode(model: torch.nn.Module, arrays: dict, meta: dict, tokenizer: Encodings) -> dict:
    """Teacher-forced pass over one episode; inputs and outputs."""
    from cogelot.modules.tokenizers.pose_action import prepare_target_actions

    policy = model.policy
    types_, words, images, obs, objects, prompt_ids = prepared_inputs(arrays, meta, tokenizer)
    actions = {k: torch.from_numpy(arrays[f"raw_action/{k}"]).unsqueeze(0) for k in KEYS}
    captured = {}
    hook = policy._transformer_decoder.register_forward_hook(
        lambda module, args, out: captured.setdefault("decoder", out)
    )
    with torch.no_grad():
        text_mask = torch.ones_like(words, dtype=torch.bool)
        embedded, embedded_mask = policy.embed_multimodal_prompt(
            (types_, words, images), text_mask=text_mask
        )
        prompt = policy.encode_prompt(embedded, embedded_mask)
        obs_tokens, obs_mask = policy.encode_observation_token(obs)
        action_tokens, action_mask = policy.encode_action_tokens(
            {k: v.clone() for k, v in actions.items()}
        )
        logits = policy.predict_action_logits(
            encoded_prompt=prompt,
            encoded_prompt_mask=embedded_mask,
            encoded_observations=obs_tokens,
            encoded_observations_mask=obs_mask,
            encoded_actions=action_tokens,
            encoded_actions_mask=action_mask,
        )
        targets = prepare_target_actions(
            {k: v.clone() for k, v in actions.items()}, policy.pose_action_tokenizer
        )
    hook.remove()
    record = {
        "token_types": np.asarray(types_[0], dtype=np.int64),
        "word_ids": words[0].numpy().astype(np.int64),
        "object_order": np.asarray(objects, dtype=np.int64),
        "prompt_object_ids": np.asarray(prompt_ids, dtype=np.int64),
        "ee": obs["ee"][0, :, 0].numpy().astype(np.int64),
        "prompt_embedded": embedded[0].numpy(),
        "prompt_mask": (~embedded_mask[0]).numpy(),
        "prompt_tokens": prompt[0].numpy(),
        "obs_tokens": obs_tokens[0].numpy(),
        "obs_mask": (~obs_mask[0]).numpy(),
        "action_tokens": action_tokens[0, :, 0].numpy(),
        "decoder_out": captured["decoder"][0].numpy(),
        "logits": logits[:, 0].permute(1, 0, 2).numpy(),
        "targets": targets[:, 0].T.numpy().astype(np.int64),
    }
    for view in VIEWS:
        if spec_uses_patches(model):  # frames, not objects
            record[f"prompt_rgb/{view}"] = images["rgb"][view][0].numpy().astype(np.float32)
            record[f"obs_rgb/{view}"] = obs["rgb"][view][0].numpy().astype(np.float32)
            continue
        record[f"prompt_crops/{view}"] = images["cropped_img"][view][0].numpy().astype(np.float32)
        record[f"prompt_bbox/{view}"] = images["bbox"][view][0].numpy().astype(np.int64)
        record[f"prompt_objmask/{view}"] = images["mask"][view][0].numpy()
        objs = obs["objects"]
        record[f"obs_crops/{view}"] = objs["cropped_img"][view][0, :, 0].numpy().astype(np.float32)
        record[f"obs_bbox/{view}"] = objs["bbox"][view][0, :, 0].numpy().astype(np.int64)
        record[f"obs_objmask/{view}"] = objs["mask"][view][0, :, 0].numpy()
    return record


def main() -> None:
    work, checkout = Path(sys.argv[1]), Path(sys.argv[2])
    spec = json.loads((work / "spec.json").read_text())
    model, _ = build_model(spec, checkout)
    layout = save_lightning(model, work / "reference.ckpt")
    tokenizer = Encodings()
    results: dict[str, np.ndarray] = {}
    for meta_file in sorted((work / "episodes").glob("*.json")):
        meta = json.loads(meta_file.read_text())
        tokenizer.add(meta["prompt"], meta["ids"], meta["tokens"])
        with np.load(meta_file.with_suffix(".npz")) as data:
            arrays = {k: data[k] for k in data.files}
        record = run_episode(model, arrays, meta, tokenizer)
        results |= {f"e{meta_file.stem}/{k}": v for k, v in record.items()}
        print(f"run_cogelot.py: {meta['name']}: {len(arrays['ee'])} steps", file=sys.stderr)
    np.savez(work / "reference.npz", **results)
    (work / "keys.json").write_text(json.dumps(state_keys(model.policy)))
    (work / "layout.json").write_text(json.dumps(layout, default=str))


if __name__ == "__main__":
    main()
