"""Target templates of the paraphrase engine (`vima_schema.paraphrase`), one tuple per task part.

Mini-language: `<name>` inserts a value read off the prompt verbatim; `[name]` a random entry of
the word list `name` (`vima_schema.vocabulary.PARAPHRASE_SLOTS`, task lists in
`TASK_PARAPHRASE_SLOTS`), expanded recursively; `[^name]` also upper-cases its first letter.
"""

from __future__ import annotations

VISUAL_MANIPULATION = (
    "[put] [the] <d> [into] [the] <b>.",
    "[pick] [the] <d> and [put] <it> [into] [the] <b>.",
    "[the] <d> should be [placed] [into] [the] <b>.",
    "[the] <b> is where [the] <d> should go.",
    "Get [the] <d> [into] [the] <b>.",
    "Find [the] <d> and [put] <it> [into] [the] <b>.",
)
SCENE_UNDERSTANDING = (
    "[put] the <t1> [object] [from] <scene> [into] the <t2> [object].",
    "In <scene>, find the <t1> [object] and [put] it [into] the <t2> [object].",
    "[pick] the <t1> [object] [from] <scene> and [put] it [into] the <t2> [object].",
    "The <t1> [object] [from] <scene> should be [placed] [into] the <t2> [object].",
    "Look at <scene> and [put] the <t1> [object] there [into] the <t2> [object].",
)
ROTATE = (
    "[rotate] [the] <d> [by] [exactly] <angle> degrees.",
    "[pick] [the] <d> and [rotate] it [by] <angle> degrees.",
    "[the] <d> should be [rotated] [by] [exactly] <angle> degrees.",
    "Give [the] <d> a <angle> degree [rotation].",
    "Apply a [rotation] of <angle> degrees to [the] <d>.",
    "[rotate] [the] <d> through an angle of <angle> degrees.",
)
REARRANGE = (
    "[rearrange] the [objects] to [match] this [setup] <scene>.",
    "[rearrange] everything so that it [matches] <scene>.",
    "Make the workspace [match] the [setup] shown in <scene>.",
    "[put] the [objects] where they are in <scene>.",
    "Reproduce the [setup] of <scene>.",
    "[rearrange] to this [setup]: <scene>.",
)
REARRANGE_THEN_RESTORE = (
    "[rearrange] the [objects] to [match] this [setup] <scene>, [then] [restore].",
    "First [rearrange] the [objects] into the [setup] <scene> and [then] [restore].",
    "Make the [objects] [match] the [setup] in <scene>, and [then] [restore].",
    "[put] the [objects] where they are in <scene>. [^then], [restore].",
    "[rearrange] everything so that it [matches] <scene>, then [restore].",
)
NOVEL_ADJ_DEMO = (
    "<a> is <adj> than <b>.",
    "<a> is <adj> compared to <b>.",
    "Compared to <b>, <a> is <adj>.",
    "<b> is less <adj> than <a>.",
    "We see that <a> is <adj> than <b>.",
)
NOVEL_ADJ_INSTRUCTION = (
    "[put] the <adv><adj> <d> [into] the <b>.",
    "[pick] the <adv><adj> <d> and [put] it [into] the <b>.",
    "Now [put] the <adv><adj> <d> [into] the <b>.",
    "The <adv><adj> <d> should be [placed] [into] the <b>.",
    "Find the <adv><adj> <d> and [put] it [into] the <b>.",
)
NOVEL_NOUN_DEFINITION = (
    "<ph> is <art> <w>.",
    "We call <ph> <art> <w>.",
    "Here is <art> <w>: <ph>.",
    "The [object] <ph> is called <art> <w>.",
    "<ph> is what we call <art> <w>.",
)
NOVEL_NOUN_INSTRUCTION = (
    "[put] <d_the> [into] <b_the>.",
    "[pick] <d_the> and [put] <it> [into] <b_the>.",
    "<d_the> should be [placed] [into] <b_the>.",
    "Now [put] <d_a> [into] <b_a>.",
    "[put] <d_a> [into] <b_a>.",
    "Find <d_the> and [put] <it> [into] <b_the>.",
)
TWIST_INTRO = (
    '"Twist" means [rotating] [an_object] by a [specific] angle. [^for_example]:',
    'To "twist" is to [rotate] [an_object] by a [specific] angle. [^for_example]:',
    'The verb "twist" refers to [rotating] [an_object] by a [specific] angle. [^for_example]:',
    'We define "twist" as [rotating] [an_object] by a [specific] angle. [^for_example]:',
)
TWIST_DEMO = (
    "From <b> to <a>.",
    "<b> becomes <a>.",
    "<b> is twisted into <a>.",
    "<b> turns into <a>.",
    "Before: <b>, after: <a>.",
)
TWIST_INSTRUCTION = (
    "Now twist all <tex> [objects].",
    "Now twist every <tex> [object].",
    "Your task is to twist all <tex> [objects].",
    "Twist all the <tex> [objects] now.",
    "Next, twist each <tex> [object].",
    "Apply the twist to every <tex> [object].",
)
FOLLOW_MOTION = (
    "[follow] this [motion] for <d>: <frames>.",
    "Make <d> [follow] the [motion] shown in <frames>.",
    "[put] <d> through the [motion] in <frames>.",
    "<d> should [follow] this [motion]: <frames>.",
    "Reproduce this [motion] with <d>: <frames>.",
)
FOLLOW_ORDER = (
    "[stack] the [objects] in this [order]: <frames>.",
    "[stack] the [objects] following this [order] <frames>.",
    "Build a [tower] of [objects] in this [order]: <frames>.",
    "[follow] this [order] to [stack] the [objects]: <frames>.",
    "[stack] the [objects] as shown in <frames>.",
    "Using the [order] <frames>, [stack] the [objects].",
)
SWEEP = (
    "[sweep] <det> <swept> [into_zone] [the] <bounds> without [limit_ing] [the] <constraint>.",
    "[sweep] <det> of the <swept> [into_zone] [the] <bounds> without [limit_ing] [the] "
    "<constraint>.",
    "Without [limit_ing] [the] <constraint>, [sweep] <det> <swept> [into_zone] [the] <bounds>.",
    "[sweep] <det> <swept> [into_zone] [the] <bounds>, but do not [limit] [the] <constraint>.",
    "[sweep] <det> <swept> [into_zone] [the] <bounds> while making sure not to [limit] [the] "
    "<constraint>.",
)
SAME_ATTRIBUTE = (
    "[put] all [objects] with the same [attr] as <b> [into] it.",
    "[put] all [objects] that share the [attr] of <b> [into] it.",
    "Find every [object] whose [attr] matches that of <b> and [put] them [into] it.",
    "Every [object] with the same [attr] as <b> should be [placed] [into] it.",
    "[put] [into] <b> all [objects] that have the same [attr] as it.",
    "Gather the [objects] sharing the [attr] of <b> and [put] them [into] it.",
)
MANIPULATE_OLD_NEIGHBOR = (
    "First [put] <d> [into] <b>, [then] [put] the [object] that was [previously] at its <dir> "
    "[into] the same <b>.",
    "[put] <d> [into] <b> first. [^then], [put] the [object] [previously] at its <dir> [into] "
    "that same <b>.",
    "Start by [putting] <d> [into] <b>, and [then] [put] the [object] that used to be at its "
    "<dir> [into] the same <b>.",
    "[put] <d> [into] <b>. [^then], [put] its former <dir> neighbor [into] the same <b> as well.",
    "First [put] <d> [into] <b>; [then] the [object] that was [previously] <dir> of it goes "
    "[into] the same <b> too.",
    "After [putting] <d> [into] <b>, [put] the [object] that was [previously] at its <dir> side "
    "[into] the same <b>.",
)
PICK_CHAIN = (
    " then [into] <b>",
    ", then [into] <b>",
    " and then [into] <b>",
    ", and after that [into] <b>",
)
PICK_IN_ORDER_THEN_RESTORE = (
    "[put] <d> [into] <chain>. [^finally], [restore_it] [back_into] its [original] container.",
    "First [put] <d> [into] <chain>; [finally], [restore_it] [back_into] the container it started "
    "in.",
    "[pick] <d> and [put] it [into] <chain>. [^finally], [restore_it] [back_into] its [original] "
    "container.",
    "<d> should go [into] <chain>, and [finally] back [into] its [original] container.",
    "[put] <d> [into] <chain>, then [restore_it] [back_into] its [original] container.",
)
