"""The paraphrase engine's tasks (`vima_schema.paraphrase`): each task's source patterns, slot
parser, renderer and target templates."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from vima_schema import paraphrase_templates as tpl
from vima_schema.paraphrase_filling import Filler, Vocab
from vima_schema.paraphrase_rendering import (
    render_frames,
    render_novel_adj,
    render_novel_noun,
    render_pick_in_order,
    render_plain,
    render_sentences,
    render_twist,
)
from vima_schema.paraphrase_slots import (
    ADJ_DEMOS,
    DIRECTION,
    NOVEL_DEFS,
    PH,
    TEXTURE,
    WORD,
    Slots,
    parse_frames,
    parse_novel_adj,
    parse_novel_noun,
    parse_pick_in_order,
    parse_plain,
    parse_twist,
    parse_visual_manipulation,
    pattern,
    simple,
)
from vima_schema.vocabulary import TASK_PARAPHRASE_SLOTS


@dataclass(frozen=True)
class TaskSpec:
    """Source patterns, slot extraction and rendering of one task."""

    patterns: tuple[re.Pattern[str], ...]
    parse: Callable[[re.Match[str], str, str], Slots]
    render: Callable[[Slots, Filler], str]
    templates: tuple[tuple[str, ...], ...]
    vocab: Vocab = field(default_factory=dict)


_SWEEP_BODY = (
    rf"Sweep (?P<det>{WORD}) (?P<swept>{PH}) into (?P<bounds>{PH}) without VERB "
    rf"(?P<constraint>{PH})"
)
_SAME_BODY = rf"Put all (?:of the )?objects with the same ATTR as (?P<b>{PH}) into it"

TASKS: dict[str, TaskSpec] = {
    "visual_manipulation": TaskSpec(
        patterns=(
            pattern(
                rf"Put (?:the )?(?P<dragged>{PH}(?:(?:,| and|, and) (?:the )?{PH})*) "
                rf"into (?:the )?(?P<b>{PH})"
            ),
        ),
        parse=simple(parse_visual_manipulation),
        render=render_plain(tpl.VISUAL_MANIPULATION),
        templates=(tpl.VISUAL_MANIPULATION,),
    ),
    "scene_understanding": TaskSpec(
        patterns=(
            pattern(
                rf"Put the (?P<t1>{TEXTURE}) object in (?P<scene>{PH}) "
                rf"into the (?P<t2>{TEXTURE}) object"
            ),
        ),
        parse=simple(parse_plain),
        render=render_plain(tpl.SCENE_UNDERSTANDING),
        templates=(tpl.SCENE_UNDERSTANDING,),
    ),
    "rotate": TaskSpec(
        patterns=(
            pattern(rf"Rotate (?:the )?(?P<d>{PH}) (?:by )?(?P<angle>\d+(?:\.\d+)?) degrees?"),
        ),
        parse=simple(parse_plain),
        render=render_plain(tpl.ROTATE),
        templates=(tpl.ROTATE,),
    ),
    "rearrange": TaskSpec(
        patterns=(pattern(rf"Rearrange (?:objects )?to this (?:setup )?(?P<scene>{PH})"),),
        parse=simple(parse_plain),
        render=render_plain(tpl.REARRANGE),
        templates=(tpl.REARRANGE,),
    ),
    "rearrange_then_restore": TaskSpec(
        patterns=(
            pattern(
                rf"Rearrange (?:objects )?to this (?:setup )?(?P<scene>{PH}),? and then restore"
            ),
        ),
        parse=simple(parse_plain),
        render=render_sentences(tpl.REARRANGE_THEN_RESTORE),
        templates=(tpl.REARRANGE_THEN_RESTORE,),
    ),
    "novel_adj": TaskSpec(
        patterns=(
            pattern(
                rf"{ADJ_DEMOS}Put the (?P<adv>less )?(?P<adj>{WORD}) (?P<d>{PH}) "
                rf"into the (?P<b>{PH})"
            ),
        ),
        parse=parse_novel_adj,
        render=render_novel_adj,
        templates=(tpl.NOVEL_ADJ_DEMO, tpl.NOVEL_ADJ_INSTRUCTION),
    ),
    "novel_noun": TaskSpec(
        patterns=(
            pattern(
                rf"{NOVEL_DEFS}Put (?P<drag>an? {WORD}(?:(?:,| and|, and) an? {WORD})*) "
                rf"into an? (?P<base>{WORD})"
            ),
        ),
        parse=parse_novel_noun,
        render=render_novel_noun,
        templates=(tpl.NOVEL_NOUN_DEFINITION, tpl.NOVEL_NOUN_INSTRUCTION),
    ),
    "novel_adj_and_noun": TaskSpec(
        patterns=(
            pattern(
                rf"{NOVEL_DEFS}{ADJ_DEMOS}Put the (?P<adv>less )?(?P<adj>{WORD}) (?P<d>{WORD}) "
                rf"into the (?P<b>{WORD})"
            ),
        ),
        parse=parse_novel_adj,
        render=render_novel_adj,
        templates=(tpl.NOVEL_NOUN_DEFINITION, tpl.NOVEL_ADJ_DEMO, tpl.NOVEL_ADJ_INSTRUCTION),
    ),
    "twist": TaskSpec(
        patterns=(
            pattern(
                rf'"Twist" is defined as rotating objects? an? specific angle\. For examples?:'
                rf"(?P<demos>(?: From {PH} to {PH}\.)+) Now twist all (?P<tex>{TEXTURE}) objects"
            ),
        ),
        parse=parse_twist,
        render=render_twist,
        templates=(tpl.TWIST_INTRO, tpl.TWIST_DEMO, tpl.TWIST_INSTRUCTION),
    ),
    "follow_motion": TaskSpec(
        patterns=(pattern(rf"Follow this motion for (?P<d>{PH}):? (?P<frames>{PH}(?: {PH})*)"),),
        parse=simple(parse_frames),
        render=render_frames(tpl.FOLLOW_MOTION),
        templates=(tpl.FOLLOW_MOTION,),
    ),
    "follow_order": TaskSpec(
        patterns=(pattern(rf"Stack objects in this order:? (?P<frames>{PH}(?: {PH})*)"),),
        parse=simple(parse_frames),
        render=render_frames(tpl.FOLLOW_ORDER),
        templates=(tpl.FOLLOW_ORDER,),
    ),
    "sweep_without_exceeding": TaskSpec(
        patterns=(pattern(_SWEEP_BODY.replace("VERB", "exceeding")),),
        parse=simple(parse_plain),
        render=render_plain(tpl.SWEEP),
        templates=(tpl.SWEEP,),
        vocab=TASK_PARAPHRASE_SLOTS["sweep_without_exceeding"],
    ),
    "sweep_without_touching": TaskSpec(
        patterns=(pattern(_SWEEP_BODY.replace("VERB", "touching")),),
        parse=simple(parse_plain),
        render=render_plain(tpl.SWEEP),
        templates=(tpl.SWEEP,),
        vocab=TASK_PARAPHRASE_SLOTS["sweep_without_touching"],
    ),
    "same_texture": TaskSpec(
        patterns=(pattern(_SAME_BODY.replace("ATTR", "(?:texture|color)")),),
        parse=simple(parse_plain),
        render=render_plain(tpl.SAME_ATTRIBUTE),
        templates=(tpl.SAME_ATTRIBUTE,),
        vocab=TASK_PARAPHRASE_SLOTS["same_texture"],
    ),
    "same_shape": TaskSpec(
        patterns=(pattern(_SAME_BODY.replace("ATTR", "(?:profile|shape)")),),
        parse=simple(parse_plain),
        render=render_plain(tpl.SAME_ATTRIBUTE),
        templates=(tpl.SAME_ATTRIBUTE,),
        vocab=TASK_PARAPHRASE_SLOTS["same_shape"],
    ),
    "manipulate_old_neighbor": TaskSpec(
        patterns=(
            pattern(
                rf"First put (?P<d>{PH}) into (?P<b>{PH}),? (?:and )?then put the object that "
                rf"was previously at its (?P<dir>{DIRECTION}) into the same (?P=b)"
            ),
        ),
        parse=simple(parse_plain),
        render=render_sentences(tpl.MANIPULATE_OLD_NEIGHBOR),
        templates=(tpl.MANIPULATE_OLD_NEIGHBOR,),
    ),
    "pick_in_order_then_restore": TaskSpec(
        patterns=(
            pattern(
                rf"Put (?P<d>{PH}) into (?P<bases>{PH}(?:,? then {PH})*)\. "
                r"Finally restore it into its original container"
            ),
        ),
        parse=simple(parse_pick_in_order),
        render=render_pick_in_order,
        templates=(tpl.PICK_CHAIN, tpl.PICK_IN_ORDER_THEN_RESTORE),
    ),
}

# Aliases used by VIMA-Bench / CoGeLoT for two of the tasks.
TASKS["same_color"] = TASKS["same_texture"]
TASKS["same_profile"] = TASKS["same_shape"]

SUPPORTED_TASKS: frozenset[str] = frozenset(TASKS)
"""Task names accepted by `vima_schema.paraphrase.reword_prompt` (the 17 VIMA tasks plus two
aliases)."""
