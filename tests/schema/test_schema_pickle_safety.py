"""The restricted pickle loader: malicious payloads are refused, foreign packages never needed."""

from __future__ import annotations

import json
import os
import pickle
import pickletools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from vima_schema.enums import PickleNamespace
from vima_schema.reader import EpisodeError, read_episode
from vima_schema.safe_pickle import (
    ALLOWED_GLOBALS,
    ForbiddenGlobalError,
    PickleLoadError,
    dump_pickle,
    load_pickle,
)

FOREIGN_MODULES = ("omegaconf", "vimasim", "vima_bench", "torch")


class _Payload:
    """Pickles as a call of `function(*args)`."""

    def __init__(self, function: Any, *args: Any) -> None:
        self.function = function
        self.args = args

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.function, self.args)


def malicious_trajectory(marker: Path) -> bytes:
    """A trajectory-like dict whose unpickling would run `os.system("touch <marker>")`."""
    return pickle.dumps({"steps": 1, "prompt": _Payload(os.system, f"touch {marker}")}, protocol=4)


def test_os_system_payload_refused(episode: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = episode / "trajectory.pkl"
    path.write_bytes(malicious_trajectory(marker))

    with pytest.raises(ForbiddenGlobalError) as info:
        load_pickle(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "'posix.system'" in message or "'os.system'" in message
    assert "forbidden global" in message
    assert not marker.exists()

    with pytest.raises(EpisodeError) as error:
        read_episode(episode)
    assert str(episode) in str(error.value)
    assert "trajectory.pkl: refused to load forbidden global" in str(error.value)
    assert "system" in str(error.value)
    assert not marker.exists()


def test_protocol_0_global_opcode_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    with pytest.raises(ForbiddenGlobalError, match=r"'os\.system'"):
        load_pickle(tmp_path / "x.pkl", data)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "global_name"),
    [
        (lambda m: _Payload(eval, f"open({str(m)!r}, 'w')"), "builtins.eval"),
        (lambda m: _Payload(exec, f"open({str(m)!r}, 'w')"), "builtins.exec"),
        (lambda m: _Payload(getattr, _Payload(__import__, "os"), "system"), "builtins.getattr"),
        (lambda m: _Payload(subprocess.Popen, ["touch", str(m)]), "subprocess.Popen"),
        (lambda m: _Payload(np.load, str(m)), "numpy.load"),
        (lambda m: _Payload(np.frombuffer, b"\x00"), "numpy.frombuffer"),
    ],
    ids=["eval", "exec", "getattr", "Popen", "numpy.load", "numpy.frombuffer"],
)
def test_other_dangerous_globals_refused(tmp_path: Path, payload: Any, global_name: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([1, payload(marker)], protocol=4))
    with pytest.raises(ForbiddenGlobalError) as info:
        load_pickle(path)
    assert f"{path}: refused to load forbidden global '{global_name}'" in str(info.value)
    assert not marker.exists()


def test_forbidden_global_error_is_a_load_error() -> None:
    assert issubclass(ForbiddenGlobalError, PickleLoadError)
    assert issubclass(PickleLoadError, ValueError)


def test_allow_list_has_no_callables_that_run_code() -> None:
    modules = {module.split(".")[0] for module, _ in ALLOWED_GLOBALS}
    assert modules == {
        "builtins",
        "collections",
        "typing",
        "functools",
        "numpy",
        "omegaconf",
        "vimasim",
        "vima_bench",
    }
    names = {f"{module}.{name}" for module, name in ALLOWED_GLOBALS}
    for dangerous in ("builtins.eval", "builtins.exec", "builtins.getattr", "numpy.load"):
        assert dangerous not in names
    # functools.partial is replaced by an inert stand-in, never the real one
    import functools

    assert ALLOWED_GLOBALS[("functools", "partial")][0] is not functools.partial


def test_persistent_ids_refused(tmp_path: Path) -> None:
    data = b"\x80\x04P0\n."  # PERSID opcode
    with pytest.raises(PickleLoadError, match="persistent ids"):
        load_pickle(tmp_path / "p.pkl", data)


def test_unreadable_file_named(tmp_path: Path) -> None:
    path = tmp_path / "missing.pkl"
    with pytest.raises(PickleLoadError, match=f"^{re.escape(str(path))}: cannot read file"):
        load_pickle(path)


def test_sample_pickles_report_their_namespace(sample_dir: Path) -> None:
    want = (
        PickleNamespace.vima_bench
        if sample_dir.parent.parent.name == "vima-bench-generated"
        else PickleNamespace.vimasim
    )
    assert load_pickle(sample_dir / "trajectory.pkl")[1] == {want}
    assert load_pickle(sample_dir / "obs.pkl")[1] == set()
    assert load_pickle(sample_dir / "action.pkl")[1] == set()


def test_mixed_namespaces_refused(episode: Path) -> None:
    path = episode / "trajectory.pkl"
    data = dump_pickle(load_pickle(path)[0], PickleNamespace.vimasim)
    # drop the FRAME opcodes (optional in protocol 4) so that a string can change length
    frames = [pos for op, _, pos in pickletools.genops(data) if op.name == "FRAME"]
    for pos in reversed(frames):
        data = data[:pos] + data[pos + 9 :]
    old = b"vimasim.tasks.components.encyclopedia.profiles"
    new = b"vima_bench.tasks.components.encyclopedia.profiles"
    short_string = b"\x8c"  # SHORT_BINUNICODE <1-byte length> <utf-8>
    assert data.count(short_string + bytes([len(old)]) + old) == 1
    path.write_bytes(
        data.replace(short_string + bytes([len(old)]) + old, short_string + bytes([len(new)]) + new)
    )

    assert load_pickle(path)[1] == {PickleNamespace.vimasim, PickleNamespace.vima_bench}
    with pytest.raises(EpisodeError, match=r"trajectory\.pkl mixes 'vimasim' and 'vima_bench'"):
        read_episode(episode)


_ISOLATED_READ = """
import json, sys
blocked = {blocked}
for name in blocked:
    sys.modules[name] = None  # any import of these now raises ImportError
from vima_schema.reader import read_episode
result = {{}}
for path in {paths}:
    episode = read_episode(path, deep=True)
    result[path] = [episode.task.name, episode.pickle_namespace.value, episode.steps]
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {foreign} and sys.modules[m])
print(json.dumps({{"episodes": result, "loaded": loaded}}))
"""


@pytest.mark.parametrize("block", [True, False], ids=["blocked", "unblocked"])
def test_reading_needs_no_foreign_packages(samples_root: Path, block: bool) -> None:
    paths = [
        str(samples_root / "vima-raw" / "follow_order" / "000000"),
        str(samples_root / "vima-raw" / "sweep_without_exceeding" / "000000"),
        str(samples_root / "vima-bench-generated" / "follow_order" / "000000"),
    ]
    blocked = [*FOREIGN_MODULES, "dill", "datasets"] if block else []
    # dill (pulled in by `datasets`) patches pickle's pure-python pickler, so keep it out too
    unwanted = [*FOREIGN_MODULES, "dill", "datasets"]
    code = _ISOLATED_READ.format(blocked=blocked, paths=paths, foreign=unwanted)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert output["episodes"] == {
        paths[0]: ["follow_order", "vimasim", 2],
        paths[1]: ["sweep_without_exceeding", "vimasim", 1],
        paths[2]: ["follow_order", "vima_bench", 2],
    }
    assert output["loaded"] == []


def test_reading_in_process_imports_no_foreign_package(sample_dir: Path) -> None:
    before = {m for m in FOREIGN_MODULES if m in sys.modules}
    read_episode(sample_dir)
    after = {m for m in FOREIGN_MODULES if m in sys.modules}
    assert after == before


def test_dump_pickle_ignores_dill_patches(sample_dir: Path) -> None:
    """dill (imported by `datasets`) patches pickle's pure-python pickler; writing must not care."""
    pytest.importorskip("dill")
    obj, namespaces = load_pickle(sample_dir / "trajectory.pkl")
    data = dump_pickle(obj, next(iter(namespaces)))
    assert b"dill" not in data
    assert load_pickle(sample_dir / "x.pkl", data)[1] == namespaces
    assert b"dill" not in dump_pickle({"types": [int, dict, list, type(None)]})
