"""Writing a prompt's slot values into target templates (`vima_schema.paraphrase_templates`) for
the paraphrase engine (`vima_schema.paraphrase`): one renderer per task shape."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vima_schema import paraphrase_templates as tpl
from vima_schema.paraphrase_filling import Filler, article, join_and, upper_first
from vima_schema.paraphrase_slots import Slots
from vima_schema.vocabulary import PARAPHRASE_SLOTS

Renderer = Callable[[Slots, Filler], str]


def render_plain(templates: Sequence[str]) -> Renderer:
    """Renderer for single-sentence tasks whose slots are plain strings."""

    def render(slots: Slots, filler: Filler) -> str:
        return filler.sentence(templates, slots)

    return render


def render_frames(templates: Sequence[str]) -> Renderer:
    """Renderer for tasks with a sequence of frame placeholders."""

    def render(slots: Slots, filler: Filler) -> str:
        sep = filler.pick(PARAPHRASE_SLOTS["frame_sep"])
        values = {k: v for k, v in slots.items() if k != "frames"}
        values["frames"] = sep.join(slots["frames"])
        return filler.sentence(templates, values)

    return render


def render_sentences(templates: Sequence[str]) -> Renderer:
    """Renderer for multi-sentence templates: every sentence start is capitalised."""

    def render(slots: Slots, filler: Filler) -> str:
        text = filler.fill(filler.pick(templates), slots)
        return ". ".join(upper_first(s) for s in text.split(". "))

    return render


def render_pick_in_order(slots: Slots, filler: Filler) -> str:
    bases: list[str] = slots["bases"]
    chain = bases[0] + "".join(
        filler.fill(filler.pick(tpl.PICK_CHAIN), {"b": b}) for b in bases[1:]
    )
    template = filler.pick(tpl.PICK_IN_ORDER_THEN_RESTORE)
    sentences = filler.fill(template, {"d": slots["d"], "chain": chain}).split(". ")
    return ". ".join(upper_first(s) for s in sentences)


def _render_definitions(pairs: Sequence[tuple[str, str]], filler: Filler) -> list[str]:
    """One sentence per (novel word, placeholder) pair; a template is chosen per prompt."""
    template = filler.pick(tpl.NOVEL_NOUN_DEFINITION)
    return [
        upper_first(filler.fill(template, {"w": w, "ph": ph, "art": article(w)})) for w, ph in pairs
    ]


def _render_adj_demos(demos: Sequence[tuple[str, str]], adj: str, filler: Filler) -> list[str]:
    """One sentence per adjective demo; a template is chosen per prompt."""
    template = filler.pick(tpl.NOVEL_ADJ_DEMO)
    return [upper_first(filler.fill(template, {"a": a, "b": b, "adj": adj})) for a, b in demos]


def render_novel_adj(slots: Slots, filler: Filler) -> str:
    sentences = _render_definitions(slots.get("defs", ()), filler)
    sentences += _render_adj_demos(slots["demos"], slots["adj"], filler)
    values = {"adv": slots["adv"], "adj": slots["adj"], "d": slots["d"], "b": slots["b"]}
    sentences.append(filler.sentence(tpl.NOVEL_ADJ_INSTRUCTION, values))
    return " ".join(sentences)


def _noun_phrase(words: Sequence[str], determiner: str | None) -> str:
    """ "the dax and the wug" / "a dax and a wug"."""
    return join_and([f"{determiner or article(w)} {w}" for w in words])


def render_novel_noun(slots: Slots, filler: Filler) -> str:
    sentences = _render_definitions(slots["defs"], filler)
    dragged: list[str] = slots["dragged"]
    values = {
        "d_the": _noun_phrase(dragged, "the"),
        "d_a": _noun_phrase(dragged, None),
        "b_the": _noun_phrase([slots["base"]], "the"),
        "b_a": _noun_phrase([slots["base"]], None),
        "it": "them" if len(dragged) > 1 else "it",
    }
    sentences.append(filler.sentence(tpl.NOVEL_NOUN_INSTRUCTION, values))
    return " ".join(sentences)


def render_twist(slots: Slots, filler: Filler) -> str:
    sentences = [upper_first(filler.fill(filler.pick(tpl.TWIST_INTRO), {}))]
    template = filler.pick(tpl.TWIST_DEMO)
    sentences += [upper_first(filler.fill(template, {"b": b, "a": a})) for b, a in slots["demos"]]
    sentences.append(filler.sentence(tpl.TWIST_INSTRUCTION, {"tex": slots["tex"]}))
    return " ".join(sentences)
