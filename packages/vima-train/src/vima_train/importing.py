"""Published checkpoints into vima-train checkpoints (`vima-train import`).

VIMA's released files are `torch.save({"cfg": {embed_dim, xf_n_layers, sattn_n_heads,
xattn_n_heads}, "state_dict": {"policy.<key>": tensor}})`, T5 inside. CoGeLoT's are Lightning
checkpoints saved weights-only: `state_dict` with `policy.<key>` in CoGeLoT's module names and
`hyper_parameters` the flattened Hydra config (vima_train.policies.cogelot.layout). Both are read
with torch's restricted unpickler (`weights_only=True`: tensors and plain containers; objects a
file names besides those, such as CoGeLoT's optimiser partials, are read as inert `Foreign`
records, never imported or run), every key is checked against the reference network built on the
meta device (no memory, no download), and the tensors are written as they are into a checkpoint
whose stored config is that family with the file's cfg and a T5 config read from the shapes.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from vima_schema.vocabulary import PLACEHOLDER_TOKENS

from vima_train.checkpoint_format import CHECKPOINT_FORMAT, META_KEY
from vima_train.config import RunConfig, deep_merge, load_preset, preset_names
from vima_train.model.actions import axis_bins, axis_names
from vima_train.policies import REFERENCE_POLICIES
from vima_train.policies.cogelot.layout import cogelot_cfg, our_key
from vima_train.policies.vima.modeling import VimaNetwork

VIMA_CFG_KEYS = ("embed_dim", "xf_n_layers", "sattn_n_heads", "xattn_n_heads")
#: VIMA's cfg names -> this project's.
VIMA_CFG = dict(zip(VIMA_CFG_KEYS, ("embed_dim", "layers", "heads", "cross_heads"), strict=True))
#: The preset a reference family's import starts from when no preset has the file's cfg.
BASE_PRESET = {"vima": "vima-200m", "cogelot": "cogelot-xattn-obj-original"}
T5_PREFIX = "t5_prompt_encoder.t5."
POLICY_PREFIX = "policy."


class ImportFailure(ValueError):
    """A file that is not the published checkpoint it claims to be (message names the file and
    every unexpected, missing or misshapen key)."""


class Foreign:
    """An object a checkpoint names that torch's restricted unpickler does not allow (e.g. an
    optimiser partial in CoGeLoT's hyper-parameters): kept as an inert record of its name and
    arguments; nothing is imported or called."""

    name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> Foreign:
        record = object.__new__(cls)
        record.args = args
        return record

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<{self.name}, not loaded>"


def _torch_load(path: Path, map_location: str | torch.device) -> Any:
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=True)
    except RuntimeError as error:  # legacy (non-zip) files cannot be memory-mapped
        if "mmap" not in str(error):
            raise
        return torch.load(path, map_location=map_location, weights_only=True)


def load_torch_file(path: Path, map_location: str | torch.device = "cpu") -> Any:
    """A torch file read with the restricted unpickler (memory-mapped when it is a zip file);
    globals it does not allow are read as `Foreign` records."""
    try:
        try:
            return _torch_load(path, map_location)
        except pickle.UnpicklingError:
            names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
            if not names:
                raise
            stand_ins = [(type(name, (Foreign,), {"name": name}), name) for name in names]
            with torch.serialization.safe_globals(stand_ins):
                return _torch_load(path, map_location)
    except FileNotFoundError:
        raise ImportFailure(f"{path}: no such file") from None
    except Exception as error:  # torch raises several types for foreign or unsafe content
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ImportFailure(f"{path}: not a checkpoint torch can read safely ({first})") from None


def t5_config_of(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The T5 encoder's `T5Config` fields, read from the shapes of its weights."""
    prefix = T5_PREFIX + "encoder.block."
    blocks = {int(k[len(prefix) :].split(".")[0]) for k in state if k.startswith(prefix)}
    attention = prefix + "0.layer.0.SelfAttention."
    bias = state[attention + "relative_attention_bias.weight"]
    heads = int(bias.shape[1])
    gated = prefix + "0.layer.1.DenseReluDense.wi_0.weight" in state
    wi = state[
        prefix
        + (
            "0.layer.1.DenseReluDense.wi_0.weight"
            if gated
            else "0.layer.1.DenseReluDense.wi.weight"
        )
    ]
    shared = state[T5_PREFIX + "shared.weight"]
    return {
        "vocab_size": int(shared.shape[0]),
        "d_model": int(shared.shape[1]),
        "d_kv": int(state[attention + "q.weight"].shape[0]) // heads,
        "d_ff": int(wi.shape[0]),
        "num_layers": len(blocks),
        "num_heads": heads,
        "relative_attention_num_buckets": int(bias.shape[0]),
        "feed_forward_proj": "gated-gelu" if gated else "relu",
    }


def reference_run_config(family: str, cfg: dict[str, Any], t5: dict[str, Any]) -> RunConfig:
    """The run config of a reference checkpoint: the first `family` preset whose cfg (decoder
    `kind`, `embed_dim`, `layers`, `heads`, `cross_heads`) it has, else `custom`, with the T5
    built from `t5` (the weights come from the file)."""
    decoder = {"kind": cfg.get("kind", "xattn"), "layers": cfg["layers"], "heads": cfg["heads"]}
    decoder["cross_heads"] = cfg["cross_heads"]
    visual = cfg.get("visual", "objects")
    model = {
        "family": family,
        "embed_dim": cfg["embed_dim"],
        "decoder": decoder,
        "visual": {"kind": visual},
        "prompt_encoder": {"t5_path": None, "t5_config": t5},
    }
    wanted = (cfg["embed_dim"], visual, *decoder.values())
    for name in preset_names():
        if not name.startswith(f"{family}-"):
            continue
        preset = load_preset(name)
        dec = preset.model.decoder
        found = (preset.model.embed_dim, preset.model.visual.kind, dec.kind, dec.layers, dec.heads)
        found = (*found, dec.cross_heads)
        if preset.model.family == family and found == wanted:
            return RunConfig.model_validate(deep_merge(preset.model_dump(), {"model": model}))
    base = deep_merge(load_preset(BASE_PRESET[family]).model_dump(), {"model": model})
    base["preset"], base["description"] = "custom", f"{family} checkpoint of an unlisted size"
    return RunConfig.model_validate(base)


def vima_state(path: Path, checkpoint: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The cfg and the policy state (prefix removed) of a VIMA checkpoint file."""
    cfg = checkpoint["cfg"]
    if not isinstance(cfg, dict) or sorted(cfg) != sorted(VIMA_CFG_KEYS):
        raise ImportFailure(
            f"{path}: cfg must have exactly {', '.join(VIMA_CFG_KEYS)}; has {cfg!r}"
        )
    raw = checkpoint["state_dict"]
    foreign = [k for k in raw if not k.startswith(POLICY_PREFIX)]
    if foreign:
        raise ImportFailure(f"{path}: keys outside 'policy.': {', '.join(sorted(foreign)[:10])}")
    return {k: int(v) for k, v in cfg.items()}, {k[len(POLICY_PREFIX) :]: v for k, v in raw.items()}


def cogelot_state(path: Path, checkpoint: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The cfg and the policy state (renamed to this project's keys) of a CoGeLoT checkpoint;
    keys with no counterpart keep their name (and are reported as unexpected)."""
    hparams = checkpoint.get("hyper_parameters")
    if not isinstance(hparams, dict):
        raise ImportFailure(f"{path}: no hyper_parameters (CoGeLoT's flattened Hydra config)")
    try:
        cfg = cogelot_cfg(hparams)
    except ValueError as error:
        raise ImportFailure(f"{path}: {error}") from None
    state = {}
    for key, value in checkpoint["state_dict"].items():
        inner = key.removeprefix(POLICY_PREFIX)
        state[(our_key(inner) if key.startswith(POLICY_PREFIX) else None) or key] = value
    return cfg, state


def file_family(checkpoint: Any) -> str | None:
    """`vima` or `cogelot` for a loaded released file of that layout (no vima-train metadata),
    else None."""
    if not isinstance(checkpoint, dict) or META_KEY in checkpoint:
        return None
    if {"cfg", "state_dict"} <= checkpoint.keys():
        return "vima"
    if {"state_dict", "hyper_parameters"} <= checkpoint.keys():
        return "cogelot"
    return None


def check_keys(
    path: Path,
    state: dict[str, torch.Tensor],
    expected: dict[str, tuple[int, ...]],
    family: str = "vima",
) -> None:
    """ImportFailure listing every unexpected, missing and misshapen key."""
    problems = []
    unexpected = sorted(state.keys() - expected.keys())
    missing = sorted(expected.keys() - state.keys())
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected: {', '.join(unexpected)}")
    if missing:
        problems.append(f"{len(missing)} missing: {', '.join(missing)}")
    shapes = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k])})"
        for k in sorted(state.keys() & expected.keys())
        if tuple(state[k].shape) != expected[k]
    ]
    if shapes:
        problems.append(f"{len(shapes)} misshapen: {', '.join(shapes)}")
    if problems:
        raise ImportFailure(f"{path}: does not fit the {family} network: " + "; ".join(problems))


def t5_layout(t5: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of transformers' `T5EncoderModel` of config `t5` (no transformers
    import: it takes longer than the rest of an import; the fixture test checks this layout
    against the references' real T5 keys, and loading builds the real module)."""
    model, inner = t5["d_model"], t5["num_heads"] * t5["d_kv"]
    ffn = (
        ("wi_0", "wi_1")
        if str(t5.get("feed_forward_proj", "relu")).startswith("gated")
        else ("wi",)
    )
    keys: dict[str, tuple[int, ...]] = {
        "shared.weight": (t5["vocab_size"], model),
        "encoder.embed_tokens.weight": (t5["vocab_size"], model),
        "encoder.final_layer_norm.weight": (model,),
    }
    for i in range(t5["num_layers"]):
        block = f"encoder.block.{i}.layer."
        for name in ("q", "k", "v"):
            keys[f"{block}0.SelfAttention.{name}.weight"] = (inner, model)
        keys[f"{block}0.SelfAttention.o.weight"] = (model, inner)
        if i == 0:
            buckets = t5.get("relative_attention_num_buckets", 32)
            keys[f"{block}0.SelfAttention.relative_attention_bias.weight"] = (
                buckets,
                t5["num_heads"],
            )
        keys[f"{block}0.layer_norm.weight"] = (model,)
        for name in ffn:
            keys[f"{block}1.DenseReluDense.{name}.weight"] = (t5["d_ff"], model)
        keys[f"{block}1.DenseReluDense.wo.weight"] = (model, t5["d_ff"])
        keys[f"{block}1.layer_norm.weight"] = (model,)
    return keys


class _T5Shape(torch.nn.Module):
    """Stands in for T5 when a reference network is built only for its keys and shapes."""

    def __init__(self, t5: dict[str, Any]) -> None:
        super().__init__()
        self.config = SimpleNamespace(d_model=t5["d_model"], vocab_size=t5["vocab_size"])
        self.embed = torch.nn.Embedding(t5["vocab_size"], t5["d_model"])

    def get_input_embeddings(self) -> torch.nn.Embedding:
        return self.embed


def expected_state(config: RunConfig) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the reference network of `config`, built on the meta device."""
    model, t5 = config.model, config.model.prompt_encoder.t5_config
    assert t5 is not None, "an imported config carries its T5 config"
    dec = model.decoder
    conventions = REFERENCE_POLICIES[model.family].CONVENTIONS
    with torch.device("meta"):
        network = VimaNetwork(
            model.embed_dim,
            dec.layers,
            dec.heads,
            dec.cross_heads or dec.heads,
            _T5Shape(t5),
            conventions=conventions,
            decoder=dec.kind,
            visual=model.visual.kind,
        )
    keys = {
        k: tuple(v.shape) for k, v in network.state_dict().items() if not k.startswith(T5_PREFIX)
    }
    return keys | {T5_PREFIX + k: shape for k, shape in t5_layout(t5).items()}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 8 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def reference_state(
    path: Path, loaded: Any, family: str | None = None
) -> tuple[str, dict[str, Any], RunConfig, dict[str, torch.Tensor]]:
    """Family, the file's own cfg, the run config and the renamed state of a released file,
    every key checked (ImportFailure otherwise)."""
    found = file_family(loaded)
    if found is None:
        keys = sorted(loaded)[:8] if isinstance(loaded, dict) else type(loaded).__name__
        raise ImportFailure(
            f"{path}: not a released VIMA file ('cfg' and 'state_dict') nor a CoGeLoT Lightning "
            f"checkpoint ('state_dict' and 'hyper_parameters'); has {keys}"
        )
    if family is not None and family != found:
        raise ImportFailure(f"{path}: a {found} checkpoint, not {family}")
    if found == "vima":
        raw_cfg, state = vima_state(path, loaded)
        cfg = {VIMA_CFG[k]: v for k, v in raw_cfg.items()}
    else:
        cfg, state = cogelot_state(path, loaded)
        raw_cfg = cfg
    if T5_PREFIX + "shared.weight" not in state:
        raise ImportFailure(f"{path}: no T5 encoder (its shared embedding is missing)")
    try:
        config = reference_run_config(found, cfg, t5_config_of(state))
    except (KeyError, ValueError) as error:
        raise ImportFailure(
            f"{path}: cfg {cfg} does not make the {found} network ({error})"
        ) from None
    check_keys(path, state, expected_state(config), found)
    return found, raw_cfg, config, state


def import_reference(
    path: Path, loaded: Any, tokenizer_json: str, vocab_size: int, family: str | None = None
) -> dict[str, Any]:
    """A vima-train checkpoint (dict for `torch.save`) holding the weights of a released VIMA or
    CoGeLoT file (`loaded` = `load_torch_file(path)`; `family` checks which it must be)."""
    found, cfg, config, state = reference_state(path, loaded, family)
    words = int(state[T5_PREFIX + "shared.weight"].shape[0])
    if vocab_size - len(PLACEHOLDER_TOKENS) > words:
        raise ImportFailure(
            f"{path}: the tokenizer has {vocab_size - len(PLACEHOLDER_TOKENS)} word ids but the "
            f"checkpoint's T5 embeds {words}: use the tokenizer it was trained with (t5-base)"
        )
    digest = hashlib.sha256(tokenizer_json.encode()).hexdigest()
    axes = config.model.action_axes
    meta = {
        "format": CHECKPOINT_FORMAT,
        "config": config.model_dump(mode="json"),
        "vocab_size": vocab_size,
        "tokenizer_json": tokenizer_json,
        "tokenizer_sha256": digest,
        # both evaluations crop the simulator's own pixels (no JPEG): VIMA's with
        # cv2.resize(INTER_AREA) on uint8, CoGeLoT's its own objects in float32
        "tokenize_settings": {
            "keep_final_observation": False,
            "tokenizer_sha256": digest,
            "crop_resampling": "cogelot" if found == "cogelot" else "cv2",
            "observation_codec": "none",
        },
        "dataset": None,
        "imported": {"family": found, "source": str(path), "sha256": file_sha256(path), "cfg": cfg},
        "total_steps": 0,
        "action_axes": axes,
        "axis_names": list(axis_names(axes)),
        "axis_bins": list(axis_bins(axes)),
        "global_step": 0,
        "epoch": 0,
        "batches_this_epoch": 0,
        "examples_seen": 0,
        "metrics": {},
    }
    return {"state_dict": {POLICY_PREFIX + k: v for k, v in state.items()}, META_KEY: meta}
