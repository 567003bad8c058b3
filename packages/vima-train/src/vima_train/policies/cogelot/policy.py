"""CoGeLoT's network (`family: cogelot`): VIMA's modules as CoGeLoT's `Policy` wires them
(amitkparekh/CoGeLoT at 485fe3f, `configs/experiment/01_their_vima.yaml`; docs/CHECKPOINTS.md).

What differs from VIMA's own network (vima_train.policies.vima), each reproduced here:
- 3-D positions: heads x 50, y 100, z 50 per position and 50 per rotation component, 14 axes;
  the action encoder reads 3-D positions;
- positions `cumsum(mask)` without VIMA's `- 1`, for the stream and the prompt
  (`cogelot/nn/decoders/vima.py`): both tables are used shifted by one row;
- the crop ViT, the box MLPs and the prompt's object tokens are `embed_dim` wide (VIMA: 768 at
  every size), so the prompt's T5 is `embed_dim` wide too (768: t5-base);
- teacher forcing embeds the dataset's continuous actions scaled into [0, 1], not their bins;
- the prompt's positions count the tokens it may attend to (one mask for both: with the text
  or the pictures masked, `cumsum` runs over what is left);
  online, CoGeLoT feeds back `bin / n` of the bounds, which `bins_to_actions` gives.

State-dict keys are this project's names for VIMA's modules; `vima_train.policies.cogelot.layout`
maps CoGeLoT's (`_obj_encoder.`, `_transformer_decoder._vima_xattn_gpt.`, ...) onto them.
"""

from __future__ import annotations

import torch

from vima_train.policies.vima.modeling import Conventions
from vima_train.policies.vima.policy import VimaPolicy

#: CoGeLoT's action heads (`configs/model/action_decoder/vima.yaml`).
COGELOT_HEADS: dict[str, tuple[int, ...]] = {
    "pose0_position": (50, 100, 50),
    "pose0_rotation": (50, 50, 50, 50),
    "pose1_position": (50, 100, 50),
    "pose1_rotation": (50, 50, 50, 50),
}
COGELOT = Conventions(
    COGELOT_HEADS,
    position_offset=0,
    crop_width=None,
    prompt_width=None,
    positions_count_attended=True,
)


class CogeLoTPolicy(VimaPolicy):
    """CoGeLoT's network with vima-train's policy interface."""

    CONVENTIONS = COGELOT

    def action_tokens(self, actions: torch.Tensor) -> torch.Tensor:
        """CoGeLoT's tokens [..., E] of continuous actions [..., 14]: scaled into [0, 1]
        (`PoseActionTokenizer.normalize_continuous_actions`) and embedded as they are."""
        return self.encode_values(self.normalised(actions))
