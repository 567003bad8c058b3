"""CoGeLoT's network (`family: cogelot`) against CoGeLoT's own code.

`data/cogelot_reference.npz` was made by scripts/reference/make_fixture.py --family cogelot:
CoGeLoT's model as its Hydra config builds it (amitkparekh/CoGeLoT, `experiment=01_their_vima`
at embed_dim 384, 2 layers, 8 / 4 heads, a small 384-wide T5; run in its own environment) with
seeded weights, on the 9 sample episodes, inputs prepared by the functions CoGeLoT's
InstancePreprocessor calls, the forward pass its online evaluation runs. The sidecar records the
Lightning checkpoint CoGeLoT's training writes (top-level keys, flattened Hydra config). Here the
seeded weights are written in that layout, imported with `vima-train import`, and every
intermediate is compared (fp32, 1e-5).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from reference_fixtures import assembled_prompt, seeded_state
from vima_convert.build import build
from vima_convert.parse import parse
from vima_schema.enums import Task
from vima_tokenize.pipeline import tokenize_dataset
from vima_tokenize.text import load_tokenizer
from vima_train.checkpoint import load_policy, read_meta
from vima_train.config import load_preset
from vima_train.data import collate, row_arrays
from vima_train.importing import load_torch_file
from vima_train.model.policy import prompt_sequence
from vima_train.model.prompt import KNOWN_T5
from vima_train.policies import build_policy
from vima_train.policies.cogelot.layout import our_key
from vima_train.policies.cogelot.policy import CogeLoTPolicy
from vima_train.policies.vima.policy import per_view
from vima_train.policies.vima.vision import VIEWS

from .conftest import EPISODES, RAW, VALID, read_rows

DATA = Path(__file__).parent / "data"
#: The fixtures: CoGeLoT's cross-attention decoder (`experiment=01_their_vima`), its
#: concatenation GPT (`08_their_gpt`) and its frame patches (`01_their_vima_patches`), each at
#: embed_dim 384.
VARIANTS = ("cogelot", "cogelot_concat", "cogelot_patches")
TOLERANCE = 1e-5
#: Hyper-parameters CoGeLoT's checkpoints hold as objects (Hydra partials), not plain values.
PARTIALS = ("optimizer_partial_fn", "lr_scheduler_partial_fn")


def cogelot_file(path: Path, sidecar: dict[str, Any]) -> Path:
    """The fixture's checkpoint in CoGeLoT's Lightning layout: seeded parameters, the buffers
    its modules register, its flattened Hydra config with the optimiser partial as an object."""
    state = seeded_state(sidecar["keys"])
    hparams = dict(sidecar["layout"]["hyper_parameters"])
    for key in PARTIALS:
        hparams[key] = functools.partial(torch.optim.AdamW, lr=1e-4)
    checkpoint = {
        "epoch": 0,
        "global_step": 0,
        "pytorch-lightning_version": "2.6.0",
        "hparams_name": "kwargs",
        "loops": {},
        "hyper_parameters": hparams,
        "state_dict": state,
    }
    assert sorted(checkpoint) == sidecar["layout"]["top_level"]
    torch.save(checkpoint, path)
    return path


@pytest.fixture(scope="module", params=VARIANTS)
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def sidecar(variant: str) -> dict[str, Any]:
    return json.loads((DATA / f"{variant}_reference.json").read_text())


@pytest.fixture(scope="module")
def reference(variant: str) -> dict[str, np.ndarray]:
    with np.load(DATA / f"{variant}_reference.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, sidecar: dict[str, Any]) -> Path:
    folder = tmp_path_factory.mktemp(f"{sidecar['spec']['overrides'][0]}-file".replace("=", "-"))
    return cogelot_file(folder / "epoch=09.ckpt", sidecar)


def _tokenizer_file(folder: Path) -> Path:
    path = folder / "tokenizer.json"
    load_tokenizer(None).save(str(path))
    return path


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory, source: Path) -> Path:
    from vima_train.cli import main

    out = tmp_path_factory.mktemp("imported") / "cogelot.ckpt"
    tokenizer = _tokenizer_file(tmp_path_factory.mktemp("tok"))
    code = main(["import", str(source), "--out", str(out), "--tokenizer", str(tokenizer)])
    assert code == 0 and out.is_file()
    return out


@pytest.fixture(scope="module")
def policy(imported: Path) -> CogeLoTPolicy:
    loaded = load_policy(imported)
    assert isinstance(loaded, CogeLoTPolicy)
    return loaded


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The sample episodes tokenized with `--crop-resampling cogelot` (CoGeLoT's objects, the
    nearest integers of its crops), by name."""
    root = tmp_path_factory.mktemp("cv2-data")
    parse([str(RAW)], root / "parsed")
    build(root / "parsed", root / "dataset", valid_size=VALID)
    summary = tokenize_dataset(root / "dataset", crop_resampling="cogelot")
    assert summary.episodes == EPISODES and not summary.failures
    return {
        f"{Task(int(row['task'])).name}/{int(row['index']):06d}": row
        for split in ("train", "valid")
        for row in read_rows(root / "dataset", split=split)
    }


def _episode(reference: dict[str, np.ndarray], index: int) -> dict[str, torch.Tensor]:
    prefix = f"e{index:03d}/"
    return {
        k[len(prefix) :]: torch.from_numpy(v) for k, v in reference.items() if k.startswith(prefix)
    }


def _patches(e: dict[str, torch.Tensor]) -> bool:
    return "obs_rgb/front" in e


def _native_visuals(policy: CogeLoTPolicy, e: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Prompt image tokens and masks, observation tokens and mask from CoGeLoT's own prepared
    crops and boxes (or frames: every patch token valid)."""
    ee = e["ee"]
    if _patches(e):
        images = policy.prompt_objects({v: e[f"prompt_rgb/{v}"] for v in VIEWS})
        obs = policy.observation_tokens({v: e[f"obs_rgb/{v}"] for v in VIEWS}, end_effector=ee)
        return (
            images,
            torch.ones(images.shape[:-1], dtype=torch.bool),
            obs,
            obs[..., 0] == obs[..., 0],
        )
    crops = {v: e[f"prompt_crops/{v}"] for v in VIEWS}
    boxes = {v: e[f"prompt_bbox/{v}"] for v in VIEWS}
    images = policy.prompt_objects(crops, boxes)
    objects = torch.cat([e[f"prompt_objmask/{v}"] for v in VIEWS], -1)
    crops = {v: e[f"obs_crops/{v}"] for v in VIEWS}
    boxes = {v: e[f"obs_bbox/{v}"] for v in VIEWS}
    obs = policy.observation_tokens(crops, boxes, end_effector=ee)
    return images, objects, obs, torch.cat([e[f"obs_objmask/{v}"] for v in VIEWS], -1)


def _native_prompt(
    policy: CogeLoTPolicy, e: dict[str, torch.Tensor], images: torch.Tensor, objects: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """The prompt assembled the way CoGeLoT's assemble_multimodal_prompt lays it out."""
    words = policy.prompt_embedding(e["word_ids"])
    return assembled_prompt(e["token_types"], words, images, objects)


def _compare(name: str, pairs: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> float:
    worst = 0.0
    for what, (ours, theirs) in pairs.items():
        assert ours.shape == theirs.shape, f"{name} {what}: {ours.shape} vs {theirs.shape}"
        ours, theirs = ours.float(), theirs.float()
        # logits: 1e-5 absolute; hidden states: 1e-5 of their largest magnitude (T5 runs in
        # transformers 4.44 there and 5.x here: the same sums in another order)
        scale = 1.0 if what == "logits" else max(1.0, float(theirs.abs().max()))
        gap = float((ours - theirs).abs().max())
        assert gap <= TOLERANCE * scale, f"{name} {what}: {gap:.2e} (scale {scale:.1f})"
        worst = max(worst, gap)
    return worst


def test_every_intermediate_equals_cogelots(
    policy: CogeLoTPolicy,
    reference: dict[str, np.ndarray],
    sidecar: dict[str, Any],
    rows: dict[str, dict[str, Any]],
) -> None:
    """Assembled prompt, prompt tokens, observation tokens, action tokens, decoder outputs, all
    14 axes' logits and the targets within 1e-5 on every sample episode, fed CoGeLoT's own
    prepared inputs (the actions: the continuous ones vima-tokenize stores)."""
    worst = 0.0
    for index, name in enumerate(sidecar["episodes"]):
        e = _episode(reference, index)
        actions = torch.from_numpy(np.asarray(row_arrays(rows[name])["actions"], np.float32))
        with torch.no_grad():
            images, objects, obs, obs_mask = _native_visuals(policy, e)
            sequence, mask = _native_prompt(policy, e, images, objects)
            prompt = policy.prompt_tokens(sequence, mask)
            action_tokens = policy.action_tokens(actions)
            memory = policy.sequence_model.prompt_memory(prompt, mask)
            out = policy.decode(obs[None], obs_mask[None], action_tokens[None], memory, mask)[0]
            # CoGeLoT's logits are its Categoricals' normalised ones (log-probabilities)
            logits = torch.log_softmax(policy.logits_of(out), dim=-1)
        steps = e["logits"].shape[0]
        per_step = obs.shape[1] + 1
        readout = e["decoder_out"][per_step - 2 :: per_step][:steps]
        worst = max(
            worst,
            _compare(
                name,
                {
                    "assembled prompt": (sequence[0], e["prompt_embedded"]),
                    "prompt mask": (mask[0], e["prompt_mask"]),
                    "prompt": (prompt[0], e["prompt_tokens"]),
                    "observations": (obs, e["obs_tokens"]),
                    "observation mask": (obs_mask, e["obs_mask"]),
                    "actions": (action_tokens, e["action_tokens"]),
                    "decoder": (out, readout),
                    "logits": (logits, e["logits"]),
                },
            ),
        )
        assert torch.equal(policy.action_bins(actions), e["targets"]), name
        assert float(e["logits"][e["logits"] > -1e8].std()) > 0.1  # far from uniform
    assert worst > 0  # numbers computed in two code bases


def test_cogelot_differs_from_vima_where_documented(policy: CogeLoTPolicy) -> None:
    """Positions `cumsum(mask)` (VIMA: `- 1`) in the cross-attention decoder, 14 heads with z,
    crop ViT as wide as the network, continuous actions embedded as they are."""
    mask = torch.tensor([[True, True, False, True]])
    if policy.config.decoder.kind == "xattn":
        assert policy.xattn_gpt.positions_of(mask, 8).tolist() == [[1, 2, 2, 3]]
    assert len(policy.bin_counts) == 14 and policy.bin_counts.tolist()[:3] == [50, 100, 50]
    assert policy.obj_encoder.cropped_img_encoder.width == policy.embed_dim == 384
    actions = torch.rand(3, 14)
    by_value = policy.encode_values(policy.normalised(actions))
    assert torch.equal(policy.action_tokens(actions), by_value)


#: Largest logit gap allowed from vima-tokenize's integer crops (CoGeLoT keeps float32 area
#: means; `--crop-resampling cogelot` stores their nearest integers, at most half a level off;
#: measured 1.04e-2 on these random weights).
ROUNDING_GAP = 2e-2


def test_masked_prompt_positions_count_what_is_attended(
    policy: CogeLoTPolicy, rows: dict[str, dict[str, Any]]
) -> None:
    """With the text masked (CoGeLoT's `disable_prompt_text`), the cross-attention prompt's
    positions are `cumsum` of the attention mask, as CoGeLoT computes them from one mask."""
    if policy.config.decoder.kind != "xattn":
        return
    batch = collate([row_arrays(next(iter(rows.values())))])
    policy.prompt_mask = "text"
    try:
        with torch.no_grad():
            cache = policy.encode_prompt(batch)
            images, token_mask = policy.prompt_images(batch.prompt)
            words = policy.prompt_embedding(batch.prompt.word_ids)
            sequence, _, valid = prompt_sequence(batch.prompt, words, images, token_mask, "text")
            tokens = policy.encode_prompt_tokens(sequence, valid)
    finally:
        policy.prompt_mask = "none"
    positions = policy.xattn_gpt.xattn_positions_embed(torch.cumsum(valid.long(), 1))
    assert torch.allclose(cache.memory, tokens + positions, atol=1e-6)
    assert not torch.equal(valid, cache.present)  # the text was masked


def test_whole_path_from_vima_tokenize_rows(
    policy: CogeLoTPolicy,
    reference: dict[str, np.ndarray],
    sidecar: dict[str, Any],
    rows: dict[str, dict[str, Any]],
) -> None:
    """From vima-tokenize's rows (`--crop-resampling cogelot`), one episode per batch, through
    `policy(batch)`: CoGeLoT's object selection and order exactly (object placeholders crop
    their background; objects in the id set's iteration order, 8, 5, 6, 7 in two episodes),
    and its log-probabilities up to the crops' rounding."""
    worst = 0.0
    for index, name in enumerate(sidecar["episodes"]):
        e = _episode(reference, index)
        row = rows[name]
        assert [int(i) for i in row["object_ids"]] == e["object_order"].tolist(), name
        used = {int(i) for i in row["prompt_object_ids"] if i >= 0}
        assert used == set(e["prompt_object_ids"].tolist()), name
        batch = collate([row_arrays(row)])
        assert torch.equal(batch.prompt.word_ids[0], e["word_ids"]), name
        _same_visuals(name, batch, e)
        with torch.no_grad():
            logits = torch.log_softmax(policy(batch)[0], dim=-1)
        worst = max(worst, float((logits - e["logits"]).abs().max()))
    assert 0 < worst <= ROUNDING_GAP, worst


def _same_visuals(name: str, batch: Any, e: dict[str, torch.Tensor]) -> None:
    """Boxes and masks equal CoGeLoT's, crops (or frames) within half a level of its float32
    ones."""
    prompt, obs = batch.prompt, batch.observations
    if _patches(e):
        for v, view in enumerate(VIEWS):
            for ours, theirs in (
                (prompt.frames[0, :, v][prompt.image_mask[0]], e[f"prompt_rgb/{view}"]),
                (obs.frames[0, :, v], e[f"obs_rgb/{view}"]),
            ):
                assert float((ours.float() - theirs).abs().max()) <= 0.5, name
        return
    visible = (prompt.object_mask & prompt.image_mask[..., None, None]).sum(-1)
    slots = visible.flatten(0, 1).amax(0).tolist()
    crops, boxes, _ = per_view(prompt.crops, prompt.bbox, prompt.object_mask, slots)
    obs_crops, obs_boxes, obs_mask = per_view(obs.crops, obs.bbox, obs.object_mask)
    images = prompt.image_mask[0]
    assert torch.equal(obs_mask[0], e["obs_mask"]), name
    for view in VIEWS:
        assert torch.equal(boxes[view][0][images].long(), e[f"prompt_bbox/{view}"]), name
        assert torch.equal(obs_boxes[view][0].long(), e[f"obs_bbox/{view}"]), name
        for ours, theirs in (
            (crops[view][0][images], e[f"prompt_crops/{view}"]),
            (obs_crops[view][0], e[f"obs_crops/{view}"]),
        ):
            assert float((ours.float() - theirs).abs().max()) <= 0.5, name


def test_imported_metadata_and_direct_load(
    variant: str,
    source: Path,
    imported: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The import records the family, the cfg read from the hyper-parameters and the preset
    whose network it is; `load_policy` takes CoGeLoT's file itself, its optimiser partials read
    as inert records (nothing of the file is imported or run)."""
    meta = read_meta(imported)
    assert meta["imported"]["family"] == "cogelot"
    kind = "decoder_only" if variant.endswith("concat") else "xattn"
    cross = 4 if kind == "xattn" else None
    visual = "patches" if variant.endswith("patches") else "objects"
    assert meta["imported"]["cfg"] == {"kind": kind, "visual": visual, "embed_dim": 384,
                                       "layers": 2, "heads": 8, "cross_heads": cross}  # fmt: skip
    assert meta["config"]["preset"] == "custom" and meta["action_axes"] == 14
    assert meta["config"]["model"]["decoder"]["kind"] == kind
    loaded = load_torch_file(source)
    partial = loaded["hyper_parameters"]["optimizer_partial_fn"]
    assert type(partial).__name__ == "functools.partial" and "not loaded" in repr(partial)
    monkeypatch.setenv("VIMA_TOKENIZER", str(_tokenizer_file(tmp_path)))
    direct = load_policy(source)
    assert isinstance(direct, CogeLoTPolicy)
    with torch.no_grad():
        for a, b in zip(direct.parameters(), load_policy(imported).parameters(), strict=True):
            assert torch.equal(a, b)


def test_import_refuses_other_cogelot_networks(tmp_path: Path, source: Path, run_cli: Any) -> None:
    """Exit 2, nothing written: a concatenation decoder (their GPT) or a renamed key."""
    checkpoint = torch.load(source, weights_only=False)  # the test's own file
    hparams = dict(checkpoint["hyper_parameters"])
    hparams["model.policy.transformer_decoder._target_"] = "cogelot.nn.decoders.VIMAGPTDecoderOnly"
    broken, out = tmp_path / "gpt.ckpt", tmp_path / "out.ckpt"
    torch.save({**checkpoint, "hyper_parameters": hparams}, broken)
    tokenizer = _tokenizer_file(tmp_path)
    result = run_cli("import", broken, "--out", out, "--tokenizer", tokenizer)
    assert result.code == 2 and not out.exists()
    assert "VIMAGPTDecoderOnly" in result.err and "cross-attention" in result.err
    state = dict(checkpoint["state_dict"])
    state["policy._action_decoder._action_decoder.extra.weight"] = state.pop(
        "policy._end_effector_encoder.weight"
    )
    torch.save({**checkpoint, "state_dict": state}, broken)
    result = run_cli("import", broken, "--out", out, "--tokenizer", tokenizer)
    assert result.code == 2 and not out.exists()
    assert "unexpected: action_decoder.extra.weight" in result.err
    assert "missing: end_effector_encoder.weight" in result.err
    result = run_cli("import", source, "--out", out, "--family", "vima", "--tokenizer", tokenizer)
    assert result.code == 2 and "a cogelot checkpoint, not vima" in result.err


def test_every_cogelot_key_has_a_name_here(sidecar: dict[str, Any]) -> None:
    """The key map covers CoGeLoT's whole state dict, one to one."""
    names = [our_key(entry["key"]) for entry in sidecar["keys"]]
    assert None not in names and len(set(names)) == len(names)


def test_published_size_layout() -> None:
    """`cogelot-xattn-obj-original` on the meta device: CoGeLoT's published model (768, 11
    layers, 24 / 24 heads, t5-base): VIMA-200M's decoder, 14 heads, no prompt post layer."""
    config = load_preset("cogelot-xattn-obj-original").model
    t5 = config.prompt_encoder.model_copy(
        update={"t5_path": None, "t5_config": KNOWN_T5["t5-base"]}
    )
    with torch.device("meta"):
        policy = build_policy(config.model_copy(update={"prompt_encoder": t5}), 32100 + 42)
    state = policy.state_dict()
    decoder = sum(p.numel() for n, p in policy.named_parameters() if n.startswith("xattn_gpt."))
    assert 207e6 < decoder < 209e6
    assert tuple(state["action_decoder._decoders.pose0_position.mlps.2.6.weight"].shape) == (
        50,
        512,
    )
    assert tuple(state["action_encoder._embed_dict.pose1_position._layer.0.weight"].shape) == (
        256,
        3,
    )
    assert "t5_prompt_encoder_post_layer.weight" not in state
    concat = load_preset("cogelot-concat-obj-original").model
    with torch.device("meta"):
        policy = build_policy(concat.model_copy(update={"prompt_encoder": t5}), 32100 + 42)
    state = policy.state_dict()
    assert tuple(state["concat_gpt.lm.tokens_embed.weight"].shape) == (40478, 768)
    assert tuple(state["concat_gpt.prompt_sep_token"].shape) == (768,)
    assert "concat_gpt.lm.h.10.attn.bias" not in state and "xattn_gpt.h.0.ln_1.weight" not in state
    patches = load_preset("cogelot-xattn-patches-original").model
    with torch.device("meta"):
        policy = build_policy(patches.model_copy(update={"prompt_encoder": t5}), 32100 + 42)
    state = policy.state_dict()
    assert tuple(state["obj_encoder.cropped_img_encoder.vit.pos_embed"].shape) == (8, 768)
    assert tuple(state["obj_encoder.cropped_img_encoder.vit.conv1.weight"].shape) == (
        768,
        3,
        32,
        32,
    )
    assert not [key for key in state if key.startswith("obj_encoder.bbox_mlp")]
