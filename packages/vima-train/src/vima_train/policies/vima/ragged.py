"""Less work on a batch's padding without changing what the network computes.

A batch pads every row to its longest: prompts to the longest prompt, the decoder's stream to
the longest episode with every scene object's slot. Two facts of VIMA's attention make most of
that padding removable: a masked key gets the dtype's minimum added, so its weight is exactly 0
and it receives no gradient, and positions count unmasked tokens only (`cumsum(mask)`). So
- `row_parts` groups rows of similar length, each group run cut to its own longest row;
- `drop_dead_tokens` leaves out the masked tokens of a stream that no output is read from.
"""

from __future__ import annotations

import torch


def row_parts(lengths: torch.Tensor, most: int = 4) -> list[torch.Tensor]:
    """Row indices [B] of a batch in at most `most` parts, each to be run cut to its longest
    row: rows sorted by length and split where the rows x longest of every part, plus the
    longest row once per extra part (what a part costs besides its rows), is least."""
    sizes = [int(n) for n in lengths.tolist()]
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    ranked = [sizes[i] for i in order]
    count, penalty = len(ranked), ranked[0] if ranked else 0
    # best[k][j]: least cost of the first j rows (longest first) in k parts; cut[k][j]: start
    best = [[0.0] + [float("inf")] * count for _ in range(most + 1)]
    cut = [[0] * (count + 1) for _ in range(most + 1)]
    for parts in range(1, most + 1):
        for end in range(1, count + 1):
            for start in range(end):
                cost = best[parts - 1][start] + (end - start) * ranked[start] + penalty
                if cost >= best[parts][end]:
                    continue
                best[parts][end], cut[parts][end] = cost, start
    parts = min(range(1, most + 1), key=lambda k: best[k][count]) if count else 1
    groups, end = [], count
    for k in range(parts, 0, -1):
        start = cut[k][end]
        groups.append(order[start:end])
        end = start
    device = lengths.device
    return [torch.tensor(g, dtype=torch.long, device=device) for g in reversed(groups) if g]


def drop_dead_tokens(
    stream: torch.Tensor, masks: torch.Tensor, read: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The stream [B, L, E] with masks [B, L] less the tokens no read slot depends on; the
    read slots `read` [L] and their places [B, R] in what is kept.

    A masked token is never attended to and adds nothing to the positions, so its own output
    is all it makes: unless it is read, dropping it changes no other output. Kept in order are
    the unmasked tokens and the read slots, each row padded to the longest with masked ones.
    When a row has no unmasked token at all (its attention spreads evenly over every token),
    the stream is kept whole."""
    if not bool(masks.any(1).all()):
        return stream, masks, read.nonzero().squeeze(1).expand(stream.shape[0], -1)
    kept = masks | read
    width = int(kept.sum(1).max())
    order = (~kept).to(torch.uint8).argsort(dim=1, stable=True)[:, :width]
    stream = stream.gather(1, order.unsqueeze(-1).expand(-1, -1, stream.shape[-1]))
    places = (kept.cumsum(1) - 1)[:, read]
    return stream, masks.gather(1, order), places


def ends_of(mask: torch.Tensor) -> torch.Tensor:
    """Per row [B] of a mask [B, L]: one past its last True (at least 1)."""
    if not mask.shape[1]:
        return torch.ones(mask.shape[0], dtype=torch.long, device=mask.device)
    index = torch.arange(1, mask.shape[1] + 1, device=mask.device)
    return torch.where(mask, index, 0).amax(1).clamp(min=1)
