"""The README runs as written: every shell line and Python block of README.md, in order, in a fresh folder.

A block right after a line ``<!-- not run: why -->`` is left out (installs, servers, fragments). Shell lines
run with this interpreter: ``chainrule`` and ``python`` on the PATH are it. Trainings are shortened by
``CHAINRULE_MAX_EPOCHS``, which ``train`` and ``sweep`` honour; the text is never edited.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
NOT_RUN = re.compile(r"<!--\s*not run:.*-->")
FENCE = re.compile(r"^```(\w*)\s*$")


def blocks(text: str) -> list[tuple[str, int, str]]:
    """(language, first line number, code) of every fenced block not marked as not run, in order."""
    found, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        marked = i > 0 and NOT_RUN.fullmatch(lines[i - 1].strip())
        if not marked:
            found.append((opening.group(1) or "text", i + 2, "\n".join(lines[i + 1 : end])))
        i = end + 1
    return found


def test_the_markers_leave_out_the_installs():
    shell = [code for lang, _, code in blocks(README.read_text(encoding="utf-8")) if lang == "bash"]
    assert shell and not any("pip install" in code for code in shell)


def test_every_command_and_block_of_the_readme_runs(tmp_path, monkeypatch):
    for extra in ("matplotlib", "tqdm", "sklearn", "pandas", "mnist1d", "onnx", "onnxruntime", "torch"):
        pytest.importorskip(extra)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "chainrule").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m chainrule "$@"\n')
    (bin_dir / "chainrule").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    work = tmp_path / "fresh"
    work.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "CHAINRULE_MAX_EPOCHS": "2",
           "PYTHONPATH": str(ROOT / "src"), "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"}  # fmt: skip
    monkeypatch.chdir(work)
    for key in ("CHAINRULE_MAX_EPOCHS", "MPLBACKEND"):
        monkeypatch.setenv(key, env[key])
    namespace: dict = {}
    for lang, line, code in blocks(README.read_text(encoding="utf-8")):
        if lang == "python":
            exec(compile(code, f"README.md, line {line}", "exec"), namespace)
        elif lang == "bash":
            for k, command in enumerate(code.splitlines()):
                if not command.strip():
                    continue
                done = subprocess.run(["bash", "-c", command], env=env, cwd=work, capture_output=True, text=True,
                                      timeout=600)  # fmt: skip
                assert done.returncode == 0, f"README.md, line {line + k}: {command}\n{done.stderr[-2000:]}"
