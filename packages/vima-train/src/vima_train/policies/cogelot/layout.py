"""CoGeLoT's checkpoint layout (amitkparekh/CoGeLoT at 485fe3f; docs/CHECKPOINTS.md).

CoGeLoT's checkpoints are Lightning checkpoints saved weights-only: `state_dict` holds
`policy.<key>` with CoGeLoT's module names, `hyper_parameters` the flattened Hydra config its
training ran with (`model.policy.…` keys, resolved; also the optimiser and scheduler partials,
which the importer reads as inert stand-ins). This module maps CoGeLoT's key names onto the names
of `family: cogelot` (VIMA's module names) and reads the network's cfg from the hyper-parameters,
refusing the networks that are not CoGeLoT's cross-attention, object-centric one.
"""

from __future__ import annotations

from typing import Any

#: CoGeLoT's key prefixes (less `policy.`) -> this project's, longest first.
KEY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("_transformer_decoder._vima_xattn_gpt.", "xattn_gpt."),
    ("_transformer_decoder._vima_hf_gpt.", "concat_gpt."),
    ("_transformer_decoder.prompt_sep_token", "concat_gpt.prompt_sep_token"),
    ("_action_encoder._embedder_per_pose_action.", "action_encoder._embed_dict."),
    ("_action_encoder._post_layer.", "action_encoder._post_layer."),
    ("_action_decoder._action_decoder.", "action_decoder."),
    ("_prompt_encoder_post_layer.", "t5_prompt_encoder_post_layer."),
    ("_prompt_obj_post_layer.", "prompt_obj_post_layer."),
    ("_end_effector_encoder.", "end_effector_encoder."),
    ("_obs_fusion_layer.", "obs_fusion_layer."),
    ("_prompt_embedding.", "prompt_embedding."),
    ("_prompt_encoder.", "t5_prompt_encoder.t5."),
    ("_obj_encoder.", "obj_encoder."),
)
POLICY = "model.policy."
DECODER = POLICY + "transformer_decoder.vima_xattn_gpt."
GPT = POLICY + "transformer_decoder.vima_hf_gpt."
OBJECTS = POLICY + "obj_encoder."
#: CoGeLoT's decoder targets -> `decoder.kind` (`experiment=01_their_vima`, `08_their_gpt`).
DECODERS = {
    "cogelot.nn.decoders.VIMADecoder": "xattn",
    "cogelot.nn.decoders.vima.VIMAGPTDecoderOnly": "decoder_only",
}
#: Module targets of the networks this family reproduces.
TARGETS: dict[str, tuple[str, ...]] = {
    POLICY + "transformer_decoder._target_": tuple(DECODERS),
    OBJECTS + "_target_": (
        "cogelot.nn.visual_encoders.ObjectCentricVisualEncoder",
        "vima.nn.ObjEncoder",
        "cogelot.nn.visual_encoders.PatchesVisualEncoder",
    ),
    POLICY + "action_encoder._target_": (
        "cogelot.modules.action_encoders.VIMAContinuousActionEmbedder",
    ),
    POLICY + "action_decoder._target_": ("cogelot.modules.action_decoders.VIMAActionDecoder",),
}
#: The visual encoder's target -> `visual.kind`.
VISUALS = {
    "cogelot.nn.visual_encoders.ObjectCentricVisualEncoder": "objects",
    "vima.nn.ObjEncoder": "objects",
    "cogelot.nn.visual_encoders.PatchesVisualEncoder": "patches",
}
#: Settings the networks fix (other heads, positions and image sizes are not built here).
FIXED: dict[str, Any] = {
    DECODER + "xattn_n_positions": 256,
    DECODER + "xattn_ff_expanding": 4,
    DECODER + "use_geglu": True,
    GPT + "use_geglu": True,
    OBJECTS + "vit_layers": 4,
    OBJECTS + "vit_heads": 24,
}
#: Settings fixed per visual encoder.
VISUAL_FIXED: dict[str, dict[str, Any]] = {
    "objects": {
        OBJECTS + "vit_resolution": 32,
        OBJECTS + "vit_patch_size": 16,
        OBJECTS + "bbox_mlp_hidden_depth": 2,
    },
    "patches": {OBJECTS + "img_size": [64, 128], OBJECTS + "vit_patch_size": 32},
}
#: The hyper-parameters giving the cfg, by this project's cfg name, per decoder kind.
CFG: dict[str, dict[str, str]] = {
    "xattn": {
        "embed_dim": POLICY + "embed_dim",
        "layers": DECODER + "n_layer",
        "heads": DECODER + "n_head",
        "cross_heads": DECODER + "xattn_n_head",
    },
    "decoder_only": {
        "embed_dim": POLICY + "embed_dim",
        "layers": GPT + "n_layer",
        "heads": GPT + "n_head",
    },
}


def our_key(key: str) -> str | None:
    """This project's name of CoGeLoT's state-dict key (less `policy.`), or None if unknown."""
    for theirs, ours in KEY_PREFIXES:
        if key.startswith(theirs):
            return ours + key[len(theirs) :]
    return None


def cogelot_cfg(hparams: dict[str, Any]) -> dict[str, Any]:
    """The cfg (decoder `kind`, `visual` kind, `embed_dim`, `layers`, `heads`, `cross_heads`:
    None for the concatenation decoder) of CoGeLoT's flattened config; ValueError naming every
    setting that is not a network this family builds."""
    problems = []
    for key, allowed in TARGETS.items():
        if hparams.get(key) not in allowed:
            problems.append(f"{key}={hparams.get(key)!r} (needs {' or '.join(allowed)})")
    visual = VISUALS.get(str(hparams.get(OBJECTS + "_target_")), "objects")
    for key, value in (FIXED | VISUAL_FIXED[visual]).items():
        if key in hparams and hparams[key] != value:
            problems.append(f"{key}={hparams[key]!r} (needs {value!r})")
    kind = DECODERS.get(str(hparams.get(POLICY + "transformer_decoder._target_")), "xattn")
    missing = [key for key in CFG[kind].values() if not isinstance(hparams.get(key), int)]
    problems += [f"{key} missing" for key in missing]
    if problems:
        raise ValueError(
            "not one of CoGeLoT's networks built here (cross-attention or concatenation "
            "decoder; object crops or frame patches): " + "; ".join(problems)
        )
    cfg: dict[str, Any] = {name: int(hparams[key]) for name, key in CFG[kind].items()}
    return {"kind": kind, "visual": visual, **cfg, "cross_heads": cfg.get("cross_heads")}
