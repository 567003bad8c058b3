"""VIMA's network (`family: vima`) against VIMA's own code.

`data/vima_reference.npz` was made by scripts/reference/make_fixture.py: VIMA's `VIMAPolicy`
(vimalabs/VIMA, run in its own environment) with seeded weights, on the 9 sample episodes, its
prompts and observations prepared by VIMA's example.py. The weights are not shipped: both sides
draw them from scripts/reference/seeded_weights.py. Here they are written in VIMA's file format,
imported with `vima-train import`, and every intermediate is compared (fp32, 1e-5).
"""

from __future__ import annotations

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
from vima_train.model.prompt import KNOWN_T5
from vima_train.policies import build_policy, parameter_count
from vima_train.policies.vima.policy import VimaPolicy, per_view
from vima_train.policies.vima.vision import VIEWS

from .conftest import EPISODES, RAW, VALID, read_rows

DATA = Path(__file__).parent / "data"
FIXTURE, SIDECAR = DATA / "vima_reference.npz", DATA / "vima_reference.json"
TOLERANCE = 1e-5


def vima_file(path: Path, keys: list[dict[str, Any]], cfg: dict[str, int]) -> Path:
    """The fixture's checkpoint in VIMA's file format: seeded parameters, VIMA's buffers."""
    torch.save({"cfg": cfg, "state_dict": seeded_state(keys)}, path)
    return path


@pytest.fixture(scope="module")
def sidecar() -> dict[str, Any]:
    return json.loads(SIDECAR.read_text())


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, sidecar: dict[str, Any]) -> Path:
    folder = tmp_path_factory.mktemp("vima-file")
    return vima_file(folder / "vima.ckpt", sidecar["keys"], sidecar["spec"]["cfg"])


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory, source: Path) -> Path:
    from vima_train.cli import main

    out = tmp_path_factory.mktemp("imported") / "vima.ckpt"
    tokenizer = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    load_tokenizer(None).save(str(tokenizer))
    code = main(["import", str(source), "--out", str(out), "--tokenizer", str(tokenizer)])
    assert code == 0 and out.is_file()
    return out


@pytest.fixture(scope="module")
def policy(imported: Path) -> VimaPolicy:
    loaded = load_policy(imported)
    assert isinstance(loaded, VimaPolicy)
    return loaded


def _episode(reference: dict[str, np.ndarray], index: int) -> dict[str, torch.Tensor]:
    prefix = f"e{index:03d}/"
    return {
        k[len(prefix) :]: torch.from_numpy(v) for k, v in reference.items() if k.startswith(prefix)
    }


def _native_prompt(policy: VimaPolicy, e: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """The assembled prompt the way VIMA's forward_prompt_assembly lays it out."""
    words = policy.prompt_embedding(e["word_ids"])
    crops = {v: e[f"prompt_crops/{v}"] for v in VIEWS}
    boxes = {v: e[f"prompt_bbox/{v}"] for v in VIEWS}
    images = policy.prompt_objects(crops, boxes)
    objects = torch.cat([e[f"prompt_objmask/{v}"] for v in VIEWS], -1)
    return assembled_prompt(e["token_types"], words, images, objects)


def test_every_intermediate_equals_vimas(
    policy: VimaPolicy, reference: dict[str, np.ndarray], sidecar: dict[str, Any]
) -> None:
    """Prompt tokens, observation tokens, decoder outputs and all 12 axes' logits within 1e-5
    on every sample episode, fed VIMA's own prepared inputs."""
    worst = 0.0
    for index, name in enumerate(sidecar["episodes"]):
        e = _episode(reference, index)
        with torch.no_grad():
            sequence, mask = _native_prompt(policy, e)
            prompt = policy.prompt_tokens(sequence, mask)
            crops = {v: e[f"obs_crops/{v}"] for v in VIEWS}
            boxes = {v: e[f"obs_bbox/{v}"] for v in VIEWS}
            obs = policy.observation_tokens(crops, boxes, end_effector=e["ee"])
            obs_mask = torch.cat([e[f"obs_objmask/{v}"] for v in VIEWS], -1)
            actions = policy.bin_tokens(e["action_bins"])
            memory = policy.xattn_gpt.prompt_memory(prompt, mask)
            out = policy.decode(obs[None], obs_mask[None], actions[None], memory, mask)[0]
            logits = policy.logits_of(out)
        expected = e["logits"]
        present = ~torch.isnan(expected)
        pairs = {
            "prompt": (prompt[0], e["prompt_tokens"]),
            "prompt mask": (mask[0].float(), e["prompt_mask"].float()),
            "observations": (obs, e["obs_tokens"]),
            "observation mask": (obs_mask.float(), e["obs_mask"].float()),
            "decoder": (out, e["decoder_out"]),
            "logits": (logits[present], expected[present]),
        }
        for what, (ours, theirs) in pairs.items():
            assert ours.shape == theirs.shape, f"{name} {what}"
            # logits: 1e-5 absolute; hidden states: 1e-5 of their largest magnitude (T5 runs
            # in transformers 4.44 there and 5.x here: the same sums in another order)
            scale = 1.0 if what == "logits" else max(1.0, float(theirs.abs().max()))
            gap = float((ours - theirs).abs().max())
            assert gap <= TOLERANCE * scale, f"{name} {what}: {gap:.2e} (scale {scale:.1f})"
            worst = max(worst, gap)
        # logits far from uniform: a wrong wiring would show
        assert float(expected[present].std()) > 0.1
    assert worst > 0  # compared numbers computed in two code bases


def test_vima_bins(
    policy: VimaPolicy,
    reference: dict[str, np.ndarray],
    sidecar: dict[str, Any],
    train_dataset: Path,
) -> None:
    """Teacher-forcing bins of the continuous actions vima-train stores: VIMA's
    `discretize_action` (bucketize on linspace(0, 1, n) of the normalised action)."""
    rows = {
        f"{Task(int(row['task'])).name}/{int(row['index']):06d}": row
        for split in ("train", "valid")
        for row in read_rows(train_dataset, split=split)
    }
    for index, name in enumerate(sidecar["episodes"]):
        actions = torch.from_numpy(np.asarray(row_arrays(rows[name])["actions"], np.float32))
        expected = _episode(reference, index)["action_bins"]
        assert torch.equal(policy.action_bins(actions[None])[0], expected), name


@pytest.fixture(scope="module")
def cv2_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample episodes tokenized with `--crop-resampling cv2` (VIMA's crops)."""
    root = tmp_path_factory.mktemp("cv2-data")
    parse([str(RAW)], root / "parsed")
    build(root / "parsed", root / "dataset", valid_size=VALID)
    summary = tokenize_dataset(root / "dataset", crop_resampling="cv2")
    assert summary.episodes == EPISODES and not summary.failures
    return root / "dataset"


@pytest.mark.parametrize("resampling", ["cv2", "area"])
def test_vima_train_batches_give_vimas_inputs_and_logits(
    resampling: str,
    policy: VimaPolicy,
    reference: dict[str, np.ndarray],
    sidecar: dict[str, Any],
    train_dataset: Path,
    cv2_dataset: Path,
) -> None:
    """The whole path from vima-tokenize's rows, one episode per batch, through `policy(batch)`:
    words, end effector, object order, per-view padding, boxes and masks are VIMA's exactly.
    With `--crop-resampling cv2` the crops are too, and every logit is VIMA's within 1e-5; the
    default `area` crops differ by at most one level, which moves these logits by about 1e-2."""
    dataset = cv2_dataset if resampling == "cv2" else train_dataset
    rows = {
        f"{Task(int(row['task'])).name}/{int(row['index']):06d}": row
        for split in ("train", "valid")
        for row in read_rows(dataset, split=split)
    }
    crop_gap, logit_gap = 0, 0.0
    for index, name in enumerate(sidecar["episodes"]):
        e = _episode(reference, index)
        batch = collate([row_arrays(rows[name])])
        prompt, obs = batch.prompt, batch.observations
        assert prompt.crops is not None and prompt.bbox is not None
        assert obs.crops is not None and obs.bbox is not None
        assert torch.equal(prompt.word_ids[0], e["word_ids"]), name
        assert torch.equal(obs.end_effector[0], e["ee"]), name
        visible = (prompt.object_mask & prompt.image_mask[..., None, None]).sum(-1)
        slots = visible.flatten(0, 1).amax(0).tolist()
        crops, boxes, _ = per_view(prompt.crops, prompt.bbox, prompt.object_mask, slots)
        obs_crops, obs_boxes, obs_mask = per_view(obs.crops, obs.bbox, obs.object_mask)
        images = prompt.image_mask[0]
        for view in VIEWS:
            assert torch.equal(boxes[view][0][images].long(), e[f"prompt_bbox/{view}"]), name
            assert torch.equal(obs_boxes[view][0].long(), e[f"obs_bbox/{view}"]), name
            for ours, theirs in (
                (crops[view][0][images], e[f"prompt_crops/{view}"]),
                (obs_crops[view][0], e[f"obs_crops/{view}"]),
            ):
                crop_gap = max(crop_gap, int((ours.int() - theirs.int()).abs().max()))
        assert torch.equal(obs_mask[0], e["obs_mask"]), name
        with torch.no_grad():
            logits = policy(batch)[0]
        present = ~torch.isnan(e["logits"])
        logit_gap = max(logit_gap, float((logits[present] - e["logits"][present]).abs().max()))
    if resampling == "cv2":
        assert crop_gap == 0 and logit_gap <= TOLERANCE, (crop_gap, logit_gap)
    else:
        assert crop_gap == 1 and logit_gap < 2e-2, (crop_gap, logit_gap)


def test_act_is_the_teacher_forced_argmax(policy: VimaPolicy, batch: Any) -> None:
    """Greedy `act` on the first t observations and t - 1 actions equals the argmax of the
    teacher-forced logits at step t (the closed loop reads what training predicts)."""
    with torch.no_grad():
        logits = policy(batch)
        cache = policy.encode_prompt(batch)
        steps = int(batch.step_mask.sum(1).min())
        for t in range(1, steps + 1):
            observations = _first_steps(batch.observations, t)
            bins = policy.act(cache, observations, batch.actions[:, : t - 1])
            assert torch.equal(bins, logits[:, t - 1].argmax(-1))


def _first_steps(observations: Any, steps: int) -> Any:
    from dataclasses import replace

    mask = observations.step_mask.clone()
    mask[:, steps:] = False
    return replace(observations, step_mask=mask)


def test_import_refuses_files_that_are_not_vimas(
    tmp_path: Path, source: Path, run_cli: Any
) -> None:
    """Exit 2 naming every unexpected, missing and misshapen key; nothing written."""
    checkpoint = torch.load(source, weights_only=True)
    state = dict(checkpoint["state_dict"])
    state["policy.extra.weight"] = torch.zeros(1)
    del state["policy.xattn_gpt.h.0.ln_1.bias"]
    state["policy.end_effector_encoder.weight"] = torch.zeros(3, 2)
    broken = tmp_path / "broken.ckpt"
    torch.save({"cfg": checkpoint["cfg"], "state_dict": state}, broken)
    out = tmp_path / "out.ckpt"
    result = run_cli("import", broken, "--out", out, "--tokenizer", _tokenizer_file(tmp_path))
    assert result.code == 2 and not out.exists()
    for word in ("1 unexpected: extra.weight", "1 missing: xattn_gpt.h.0.ln_1.bias",
                 "end_effector_encoder.weight (3, 2) (expected (2, 2))"):  # fmt: skip
        assert word in result.err
    torch.save({"state_dict": state}, broken)
    result = run_cli("import", broken, "--out", out, "--tokenizer", _tokenizer_file(tmp_path))
    assert result.code == 2 and "not a released VIMA file" in result.err


def _tokenizer_file(folder: Path) -> Path:
    path = folder / "tokenizer.json"
    load_tokenizer(None).save(str(path))
    return path


def test_vima_200m_layout_has_every_released_key() -> None:
    """`vima-200m` on the meta device: VIMA-200M's 551 keys and their shapes
    (../shared/docs/vima-checkpoint-layout.md), the decoder's 208 M parameters."""
    config = load_preset("vima-200m").model
    with torch.device("meta"):
        policy = build_policy(
            config.model_copy(
                update={"prompt_encoder": config.prompt_encoder.model_copy(
                    update={"t5_path": None, "t5_config": KNOWN_T5["t5-base"]})}
            ),
            32100 + 42,
        )  # fmt: skip
    state = policy.state_dict()
    assert len(state) == 551
    decoder = sum(p.numel() for n, p in policy.named_parameters() if n.startswith("xattn_gpt."))
    assert 207e6 < decoder < 209e6
    shapes = {
        "xattn_gpt.positions_embed.weight": (512, 768),
        "xattn_gpt.xattn_positions_embed.weight": (256, 768),
        "xattn_gpt.h.10.attn.c_attn.weight": (768, 2304),
        "xattn_gpt.h.10.attn.bias": (1, 1, 512, 512),
        "xattn_gpt.h.10.mlp.gated_layer.weight": (3072, 768),
        "xattn_gpt.xattns.10.key_value.weight": (1536, 768),
        "xattn_gpt.xattns.10.kv_position_ids": (256,),
        "obj_encoder.cropped_img_encoder.vit.pos_embed": (5, 768),
        "obj_encoder.cropped_img_encoder.vit.blocks.3.attn.in_proj_weight": (2304, 768),
        "obj_encoder.cropped_img_encoder.vit.projection": (768, 768),
        "obj_encoder.bbox_mlp.top.6.weight": (768, 768),
        "obj_encoder.pre_transformer_layer.front.weight": (768, 1536),
        "obs_fusion_layer.weight": (768, 770),
        "action_encoder._embed_dict.pose0_rotation._layer.0.weight": (256, 4),
        "action_encoder._post_layer.weight": (768, 1024),
        "action_decoder._decoders.pose1_position.mlps.1.6.weight": (100, 512),
        "prompt_embedding._embed_layer.weight": (32128, 768),
        "t5_prompt_encoder.t5.encoder.block.11.layer.1.DenseReluDense.wi.weight": (3072, 768),
        "prompt_obj_post_layer.6.weight": (768, 768),
    }
    for key, shape in shapes.items():
        assert tuple(state[key].shape) == shape, key
    assert "t5_prompt_encoder_post_layer.weight" not in state  # embed_dim == 768: Identity
    assert "xattn_gpt.ln_f.weight" not in state  # no final LayerNorm
    assert parameter_count(config, 32100 + 42) == sum(p.numel() for p in policy.parameters())


def test_export_folder_loads_everywhere(
    tmp_path: Path, imported: Path, policy: VimaPolicy, batch: Any, run_cli: Any
) -> None:
    """`vima-train export` writes config.json, model.safetensors (T5's tied embedding once),
    tokenizer.json and a card; the folder loads to the same logits and inspects."""
    result = run_cli("export", imported, "--out", tmp_path / "folder")
    assert result.code == 0
    folder = Path(result.last_line)
    assert {p.name for p in folder.iterdir()} == {
        "config.json", "model.safetensors", "tokenizer.json", "README.md"}  # fmt: skip
    config = json.loads((folder / "config.json").read_text())
    assert config["tied"] == {
        "t5_prompt_encoder.t5.encoder.embed_tokens.weight": "t5_prompt_encoder.t5.shared.weight"
    }
    assert "vima network" in (folder / "README.md").read_text()
    reloaded = load_policy(folder)
    with torch.no_grad():
        assert torch.equal(reloaded(batch), policy(batch))
    assert read_meta(folder)["imported"]["cfg"] == read_meta(imported)["imported"]["cfg"]
    assert run_cli("inspect", folder).code == 0


def test_released_file_loads_directly(
    source: Path, imported: Path, batch: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`load_policy` (every vima-eval command) takes VIMA's file itself, imported in memory
    with the tokenizer of $VIMA_TOKENIZER: the same network and metadata as `vima-train
    import`."""
    monkeypatch.setenv("VIMA_TOKENIZER", str(_tokenizer_file(tmp_path)))
    direct, via_import = load_policy(source), load_policy(imported)
    assert isinstance(direct, VimaPolicy)
    assert direct.checkpoint_meta is not None and via_import.checkpoint_meta is not None
    assert direct.checkpoint_meta["tokenize_settings"] == {
        "keep_final_observation": False,
        "tokenizer_sha256": via_import.checkpoint_meta["tokenizer_sha256"],
        "crop_resampling": "cv2",
        "observation_codec": "none",
    }
    with torch.no_grad():
        assert torch.equal(direct(batch), via_import(batch))
