"""Tests of the VIMA text tokenizer (vima_tokenize.text, vima_tokenize.corpus)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from vima_schema.safe_pickle import load_pickle
from vima_schema.vocabulary import (
    NOVEL_WORDS,
    OBJECT_NAMES,
    PLACEHOLDER_NAMES,
    PLACEHOLDER_TOKENS,
    TEXTURE_NAMES,
)
from vima_tokenize import text
from vima_tokenize.corpus import TASK_TEMPLATES, corpus_sentences, split_on_placeholders
from vima_tokenize.text import (
    EOS_ID,
    PAD_ID,
    EncodedPrompt,
    add_placeholder_tokens,
    decode_prompt,
    encode_prompt,
    encode_prompts,
    load_tokenizer,
    placeholder_ids,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_JSON = REPO_ROOT / "packages/vima-tokenize/src/vima_tokenize/data/tokenizer.json"
SAMPLE_TRAJECTORIES = sorted(REPO_ROOT.glob("data/samples/*/*/000000/trajectory.pkl"))

# Prompts of instance 000000 of each of the 13 VIMA-Data training tasks, as stored in their
# trajectory.pkl (the sample episodes in data/samples hold 9 of them)
DOC_PROMPTS: tuple[str, ...] = (
    "Stack objects in this order {frame_0} {frame_1} {frame_2}.",
    "First put {dragged_obj} into {base_obj} then put the object that was previously at its "
    "west into the same {base_obj}.",
    "{demo_blicker_obj_1} is kobar than {demo_less_blicker_obj_1}. {demo_blicker_obj_2} is "
    "kobar than {demo_less_blicker_obj_2}. {demo_blicker_obj_3} is kobar than "
    "{demo_less_blicker_obj_3}. Put the kobar {dragged_obj} into the {base_obj}.",
    "This is a dax {dragged_obj_1}. This is a zup {base_obj}. Put a dax into a zup.",
    "Put {dragged_obj} into {base_obj_1} then {base_obj_2}. Finally restore it into its "
    "original container.",
    "Rearrange to this {scene}.",
    "Rearrange objects to this setup {scene} and then restore.",
    "Rotate the {dragged_obj} 150 degrees.",
    "Put all objects with the same profile as {base_obj} into it.",
    "Put the yellow and blue polka dot object in {scene} into the purple swirl object.",
    "Sweep one {swept_obj} into {bounds} without exceeding {constraint}.",
    '"Twist" is defined as rotating object a specific angle. For examples: From '
    "{before_twist_1} to {after_twist_1}. From {before_twist_2} to {after_twist_2}. From "
    "{before_twist_3} to {after_twist_3}. Now twist all red and yellow polka dot objects.",
    "Put the {dragged_obj_1} into the {base_obj}.",
)

# Prompts in the style of VIMA-Bench's paraphrased-instruction evaluation (other verbs,
# prepositions and determiners around the same placeholders)
PERTURBED_PROMPTS: tuple[str, ...] = (
    "Put {dragged_obj_1} on top of the {base_obj}.",
    "Shove any {swept_obj} inside the {bounds} without fully crossing the {constraint}.",
    "Pick up the {dragged_obj} and spin 150 degrees.",
    "Shift objects in the {scene} so that one green paisley item are onto the blue paisley item.",
    "Construct a tower of items in this order: {frame_0} {frame_1} {frame_2}.",
    '"twist" is defined as rotating things a specific amount. for examples: from '
    "{before_twist_1} to {after_twist_1}.",
    "vaO NaV {dragged_obj_1} oPYe rnV {base_obj}.",
    "tablet protocols {R} representation Panasonic {pallet}.",
    "Put the green paisley letter V into the blue paisley square.",
    "Sweep any green paisley small block into the checkerboard three-sided rectangle without "
    "exceeding the olive line.",
    "A wug is a gray bowl. a dax is a gray letter M. put a wug into a dax.",
    "Put the less modier wug into the dax.",
    "",
    " leading and trailing spaces ",
    "double  spaces\tand a tab\nand a newline",
    "Unicode: naïve café Ωmega 中文 🤖 — done.",
)

PLACEHOLDER_RE = re.compile(r"\{([A-Za-z0-9_]+)\}")
KNOWN = frozenset(PLACEHOLDER_NAMES)


def _sample_prompts() -> list[str]:
    return [load_pickle(path)[0]["prompt"] for path in SAMPLE_TRAJECTORIES]


def _expected_placeholders(prompt: str) -> list[str]:
    return [name for name in PLACEHOLDER_RE.findall(prompt) if name in KNOWN]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return load_tokenizer()


ALL_PROMPTS = (*DOC_PROMPTS, *PERTURBED_PROMPTS)


# ---------------------------------------------------------------------------- vocabulary


def test_placeholder_vocabulary() -> None:
    assert len(PLACEHOLDER_TOKENS) == 114
    assert len(set(PLACEHOLDER_TOKENS)) == 114
    assert PLACEHOLDER_TOKENS[:12] == ("{base_obj}", *(f"{{base_obj_{i}}}" for i in range(11)))
    for name in ("swept_obj", "bounds", "constraint", "scene", "ring", "hanoi_stand"):
        assert f"{{{name}}}" in PLACEHOLDER_TOKENS
    assert "{frame_10}" in PLACEHOLDER_TOKENS
    assert "{scene_0}" not in PLACEHOLDER_TOKENS


def test_corpus_covers_vocabulary() -> None:
    corpus = corpus_sentences()
    assert corpus == corpus_sentences()  # deterministic
    assert not any("{" + name + "}" in line for line in corpus for name in ("base_obj", "scene"))
    words = {word.strip(".,:\"'").lower() for line in corpus for word in line.split()}
    for phrase in (*OBJECT_NAMES, *TEXTURE_NAMES, *NOVEL_WORDS, "twist", "north", "150"):
        for word in phrase.split():
            assert word.lower() in words, word
    full = corpus_sentences(split_placeholders=False)
    assert any("{dragged_obj_1}" in line for line in full)
    assert len(TEXTURE_NAMES) == 82
    assert len(TASK_TEMPLATES) == 17


def test_split_on_placeholders() -> None:
    assert split_on_placeholders("Put the {dragged_obj} into {x}{base_obj}.") == [
        "Put the ",
        " into {x}",
        ".",
    ]


# ---------------------------------------------------------------------------- default file


def test_default_tokenizer_file(tokenizer: Tokenizer) -> None:
    data = json.loads(DEFAULT_JSON.read_text(encoding="utf-8"))
    assert data["model"]["type"] == "BPE"
    assert data["pre_tokenizer"]["type"] == "ByteLevel"
    assert data["decoder"]["type"] == "ByteLevel"
    assert data["normalizer"] is None
    assert tokenizer.token_to_id("<pad>") == PAD_ID == 0
    assert tokenizer.token_to_id("</s>") == EOS_ID == 1
    assert tokenizer.token_to_id("<unk>") == 2
    model_size = tokenizer.get_vocab_size(with_added_tokens=False)
    assert 256 < model_size <= 4096
    ids = placeholder_ids(tokenizer)
    assert len(ids) == 114
    # placeholders come after the word vocabulary, so word ids index an embedding of model_size
    assert min(ids) == model_size
    assert max(ids) == model_size + 113
    assert add_placeholder_tokens(tokenizer) == 0


def test_file_is_up_to_date() -> None:
    """The committed tokenizer.json equals a fresh build (the build is deterministic)."""
    from repo_scripts import load_script

    built = load_script("scripts/build_tokenizer.py").build_tokenizer()
    assert built.to_str(pretty=True) + "\n" == DEFAULT_JSON.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- encoding


@pytest.mark.parametrize("prompt", ALL_PROMPTS)
def test_round_trip(tokenizer: Tokenizer, prompt: str) -> None:
    encoding = tokenizer.encode(prompt)
    assert encoding.ids[-1] == EOS_ID
    assert tokenizer.token_to_id("<unk>") not in encoding.ids
    assert tokenizer.decode(encoding.ids, skip_special_tokens=True) == prompt
    assert tokenizer.decode(encoding.ids[:-1], skip_special_tokens=False) == prompt
    encoded = encode_prompt(tokenizer, prompt)
    assert decode_prompt(tokenizer, encoded) == prompt


@pytest.mark.skipif(not SAMPLE_TRAJECTORIES, reason="no sample episodes")
def test_sample_prompts_round_trip(tokenizer: Tokenizer) -> None:
    prompts = _sample_prompts()
    assert len(prompts) == len(SAMPLE_TRAJECTORIES) >= 1
    for prompt in prompts:
        encoded = encode_prompt(tokenizer, prompt)
        assert decode_prompt(tokenizer, encoded) == prompt
        assert encoded.placeholders == _expected_placeholders(prompt)
        assert encoded.placeholders  # every sample prompt has at least one image
        ids = tokenizer.encode(prompt).ids
        assert tokenizer.decode(ids[:-1], skip_special_tokens=False) == prompt


@pytest.mark.parametrize("prompt", ALL_PROMPTS)
def test_encode_prompt_structure(tokenizer: Tokenizer, prompt: str) -> None:
    encoded = encode_prompt(tokenizer, prompt)
    assert isinstance(encoded, EncodedPrompt)
    assert encoded.token_types.dtype == np.int8
    assert encoded.word_ids.dtype == np.int64
    assert set(np.unique(encoded.token_types).tolist()) <= {0, 1}
    assert encoded.n_tokens == len(tokenizer.encode(prompt).ids)
    assert int((encoded.token_types == 0).sum()) == len(encoded.word_ids)
    assert int((encoded.token_types == 1).sum()) == len(encoded.placeholders)
    assert encoded.token_types[-1] == 0 and encoded.word_ids[-1] == EOS_ID
    assert encoded.placeholders == _expected_placeholders(prompt)
    # word ids never include placeholder ids and always fit the word embedding
    assert int(encoded.word_ids.max()) < tokenizer.get_vocab_size(with_added_tokens=False)


def test_placeholder_order_and_duplicates(tokenizer: Tokenizer) -> None:
    prompt = (
        "First put {dragged_obj} into {base_obj} then put the object that was previously at its "
        "west into the same {base_obj}."
    )
    encoded = encode_prompt(tokenizer, prompt)
    assert encoded.placeholders == ["dragged_obj", "base_obj", "base_obj"]
    encoded = encode_prompt(tokenizer, "{frame_2} {frame_0}{frame_1}.{frame_2}")
    assert encoded.placeholders == ["frame_2", "frame_0", "frame_1", "frame_2"]
    assert encoded.token_types.tolist() == [1, 0, 1, 1, 0, 1, 0]


def test_example_from_model_reference(tokenizer: Tokenizer) -> None:
    encoded = encode_prompt(tokenizer, "put the {dragged_obj} into the {base_obj} .")
    # word-level split plus the space token in front of each placeholder
    assert encoded.token_types.tolist() == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0]
    assert len(encoded.word_ids) == 8
    assert encoded.placeholders == ["dragged_obj", "base_obj"]


@pytest.mark.parametrize("token", PLACEHOLDER_TOKENS)
def test_each_placeholder_is_one_token(tokenizer: Tokenizer, token: str) -> None:
    token_id = tokenizer.token_to_id(token)
    assert token_id is not None
    for context in ("{}", " {}", "{}.", " {}.", "({})", "a{}b", "{}{}", "x {}:", '"{}"'):
        ids = tokenizer.encode(context.format(token, token), add_special_tokens=False).ids
        assert ids.count(token_id) == context.count("{}"), context
        pieces = [tokenizer.decode([i]) for i in ids if i != token_id]
        assert all(token not in piece for piece in pieces)
        assert tokenizer.decode(ids) == context.format(token, token)


def test_unknown_braces_are_words(tokenizer: Tokenizer) -> None:
    encoded = encode_prompt(tokenizer, "Put {x} and {scene_0} into {Base_Obj} {base_obj}.")
    assert encoded.placeholders == ["base_obj"]
    assert decode_prompt(tokenizer, encoded) == "Put {x} and {scene_0} into {Base_Obj} {base_obj}."


@pytest.mark.parametrize("word", ["Zyxwvut", "vaO NaV oPYe", "naïve", "Ωmega", "🤖", "QQQ"])
def test_unseen_words(tokenizer: Tokenizer, word: str) -> None:
    unk = tokenizer.token_to_id("<unk>")
    ids = tokenizer.encode(word, add_special_tokens=False).ids
    assert ids and unk not in ids
    assert tokenizer.decode(ids) == word
    encoded = encode_prompt(tokenizer, f"Put the {word} into the {{base_obj}}.")
    assert encoded.placeholders == ["base_obj"]
    assert unk not in encoded.word_ids.tolist()
    assert decode_prompt(tokenizer, encoded) == f"Put the {word} into the {{base_obj}}."


def test_vocabulary_words_are_compact(tokenizer: Tokenizer) -> None:
    """Template words, object and texture names mostly encode as one token each."""
    for word in ("Put", " the", " into", " dax", " kobar", " degrees", " polka", " paisley"):
        assert len(tokenizer.encode(word, add_special_tokens=False).ids) == 1, word
    prompt = DOC_PROMPTS[-1]
    assert len(tokenizer.encode(prompt).ids) <= 12


# ---------------------------------------------------------------------------- loading


def test_load_from_file_and_folder(tmp_path: Path, tokenizer: Tokenizer) -> None:
    file = tmp_path / "custom.json"
    shutil.copy(DEFAULT_JSON, file)
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(DEFAULT_JSON, folder / "tokenizer.json")
    prompt = DOC_PROMPTS[2]
    expected = encode_prompt(tokenizer, prompt)
    for source in (file, str(file), folder, str(folder)):
        loaded = load_tokenizer(source)
        got = encode_prompt(loaded, prompt)
        assert got.token_types.tolist() == expected.token_types.tolist()
        assert got.word_ids.tolist() == expected.word_ids.tolist()
        assert got.placeholders == expected.placeholders


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("no tokenizer.json")):
        load_tokenizer(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        load_tokenizer(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read"):
        load_tokenizer(bad)


def test_bogus_hub_name_fails_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    name = "definitely-not-an-org/no-such-vima-tokenizer-xyz"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    for offline in (False, True):
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", offline)
        with pytest.raises(ValueError, match=re.escape(name)):
            load_tokenizer(name)


def test_hub_name_from_local_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    snapshot = cache / "models--some-org--tiny-tok" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc123", encoding="utf-8")
    shutil.copy(DEFAULT_JSON, snapshot / "tokenizer.json")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    loaded = load_tokenizer("some-org/tiny-tok")
    assert len(placeholder_ids(loaded)) == 114


def test_hub_probe_of_an_unroutable_endpoint_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # 192.0.2.0/24 is TEST-NET-1: never routed, a connect attempt would hang without a timeout
    for variable in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    assert not text._reachable("https://192.0.2.1", 0.5)


def _third_party(tmp_path: Path) -> Path:
    vocab = {"[UNK]": 0, "[PAD]": 1, "put": 2, "the": 3, "into": 4, ".": 5, "{scene}": 6}
    third = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    third.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "third.json"
    third.save(str(path))
    return path


def test_third_party_tokenizer_gets_placeholders(tmp_path: Path) -> None:
    path = _third_party(tmp_path)
    raw = Tokenizer.from_file(str(path))
    assert len(raw.get_added_tokens_decoder()) == 0
    loaded = load_tokenizer(path)
    ids = placeholder_ids(loaded)
    assert sorted(ids.values()) == sorted(PLACEHOLDER_NAMES)
    # "{scene}" was already a word of the vocabulary: it keeps its id but is now an added token
    assert loaded.token_to_id("{scene}") == 6
    added = {t.content for t in loaded.get_added_tokens_decoder().values()}
    assert set(PLACEHOLDER_TOKENS) <= added
    encoded = encode_prompt(loaded, "put the {dragged_obj_1} into the {base_obj}.{scene}")
    assert encoded.placeholders == ["dragged_obj_1", "base_obj", "scene"]
    assert encoded.token_types.tolist() == [0, 0, 1, 0, 0, 1, 0, 1]
    assert encoded.word_ids.tolist() == [2, 3, 4, 3, 5]
    assert add_placeholder_tokens(loaded) == 0


def test_lookup_cache_sees_added_tokens(tmp_path: Path) -> None:
    raw = Tokenizer.from_file(str(_third_party(tmp_path)))
    assert encode_prompt(raw, "put {base_obj}").placeholders == []
    add_placeholder_tokens(raw)
    assert encode_prompt(raw, "put {base_obj}").placeholders == ["base_obj"]


def test_encode_prompts_matches_single(tokenizer: Tokenizer) -> None:
    batch = encode_prompts(tokenizer, list(ALL_PROMPTS))
    assert len(batch) == len(ALL_PROMPTS)
    for prompt, got in zip(ALL_PROMPTS, batch, strict=True):
        one = encode_prompt(tokenizer, prompt)
        assert got.token_types.tolist() == one.token_types.tolist()
        assert got.word_ids.tolist() == one.word_ids.tolist()
        assert got.placeholders == one.placeholders
