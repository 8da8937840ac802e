"""The pages' scripts and style sheet are real files shipped as package data, and the pages inline them verbatim."""

import fnmatch
import re
import sys
from pathlib import Path

import pytest

import chainrule as cr
from chainrule.explain import EXAMPLES

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "chainrule" / "explain" / "html" / "assets"


def package_data() -> list[str]:
    if sys.version_info < (3, 11):
        pytest.skip("tomllib needs Python 3.11")
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["setuptools"]["package-data"]["chainrule"]


def test_every_asset_is_declared_as_package_data():
    files = sorted(p.relative_to(ROOT / "src" / "chainrule").as_posix() for p in ASSETS.iterdir())
    assert {Path(f).suffix for f in files} == {".js", ".css"}
    for f in files:
        assert any(fnmatch.fnmatch(f, pattern) for pattern in package_data()), f"{f} would be left out of the wheel"


def test_the_pages_inline_the_asset_files_verbatim(tmp_path):
    model, X, y, loss, lr = EXAMPLES["two-two-two"]()
    html = cr.explain(model, X, y, loss, lr=lr).to_html(tmp_path / "p.html").read_text(encoding="utf-8")
    for name in ("tools.js", "diagram.js", "view.js", "start.js", "page.css"):
        assert (ASSETS / name).read_text(encoding="utf-8") in html, name
    assert (ASSETS / "player.js").read_text(encoding="utf-8") not in html  # the replay's script only


def test_no_script_is_held_in_a_python_string():
    for path in (ROOT / "src" / "chainrule" / "explain").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bfunction\s*\w*\s*\(|addEventListener|=> ", text), path
