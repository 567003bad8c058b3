"""Writes the golden file of every shipped preset's fully resolved config.

    uv run --all-packages python scripts/preset_golden.py [--out FILE]

tests/train/test_train_presets_golden.py fails when a preset's resolved config differs from the
file: a preset name is a fixed network, so a change needs a new name (and the old one kept or
listed in `vima_train.config.RETIRED_PRESETS`). Run this only to add presets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vima_train.config import load_preset, preset_names

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests/train/data/presets-golden.json")
    args = parser.parse_args()
    golden = {name: load_preset(name).model_dump(mode="json") for name in preset_names()}
    args.out.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print(args.out)


if __name__ == "__main__":
    main()
