"""The layers of the house, checked by a machine (docs/architecture.md).

The import-linter contracts in pyproject.toml (``[tool.importlinter]``, run by ``make lint``)
hold for the project; and each of them fails on a deliberate violation, written into a copy
of the project's packages, so that a contract that checks nothing cannot pass unnoticed.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "migrations", "billing", "voip", "enforcement", "web", "zone")
CONTRACTS = ("layers", "voip-views", "enforcement-views", "no-flask", "app-on-top", "acyclic")


def lint_imports(cwd: Path, *contracts: str) -> subprocess.CompletedProcess:
    """``lint-imports`` in ``cwd`` (a fresh process: it imports the packages found there)."""
    args = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()",
            "--no-cache", "--no-logo"]
    for contract in contracts:
        args += ["--contract", contract]
    env = {**os.environ, "COLUMNS": "200"}  # one contract name, one line
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def contract_names() -> dict[str, str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c["name"] for c in config["tool"]["importlinter"]["contracts"]}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """The packages' Python files and pyproject.toml, copied once."""
    base = tmp_path_factory.mktemp("house")

    def not_python(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n == "__pycache__"
                or (Path(folder, n).is_file() and not n.endswith(".py"))]

    for package in PACKAGES:
        shutil.copytree(ROOT / package, base / package, ignore=not_python)
    shutil.copy(ROOT / "pyproject.toml", base / "pyproject.toml")
    return base


@pytest.fixture
def house(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the project to break, one per test."""
    copy = tmp_path / "house"
    shutil.copytree(pristine, copy)
    return copy


def test_contracts_are_the_ones_this_test_breaks():
    assert tuple(contract_names()) == CONTRACTS


def test_the_project_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


def test_the_copy_keeps_every_contract(house: Path):
    """The copy the violations are written into is sound to begin with."""
    result = lint_imports(house)
    assert result.returncode == 0, result.stdout + result.stderr


# contract id, module (relative to the project), the line that breaks the contract, and the
# import lint-imports reports for it
VIOLATIONS = [
    # core -> billing -> voip | enforcement -> web -> zone
    ("layers", "core/clock.py", "import billing.models", "core.clock -> billing.models"),
    ("layers", "billing/ledger/balances.py", "from voip.models import VoipLine",
     "billing.ledger.balances -> voip.models"),
    ("layers", "voip/topups.py", "from web.formatting import format_money",
     "voip.topups -> web.formatting"),
    ("layers", "web/formatting.py", "import zone.charts", "web.formatting -> zone.charts"),
    # voip and enforcement are independent of each other
    ("layers", "voip/lines.py", "import enforcement.cases", "voip.lines -> enforcement.cases"),
    # a domain module never imports its package's view layer
    ("voip-views", "voip/tariffs.py", "import voip.views", "voip.tariffs -> voip.views"),
    ("enforcement-views", "enforcement/policy.py", "from enforcement import warning",
     "enforcement.policy -> enforcement.warning"),
    # nothing below the views imports Flask, also not the packages' __init__
    ("no-flask", "core/mail.py", "from flask import current_app", "core.mail -> flask"),
    ("no-flask", "billing/ledger/balances.py", "from flask_babel import gettext",
     "billing.ledger.balances -> flask_babel"),
    ("no-flask", "enforcement/mailq.py", "from flask import render_template",
     "enforcement.mailq -> flask"),
    ("no-flask", "voip/__init__.py", "from flask import Blueprint", "voip -> flask"),
    # app.py is on top
    ("app-on-top", "web/cli.py", "from app import create_app", "web.cli -> app"),
    # no circles between siblings (one of the two issue 12 broke, and a new one)
    ("acyclic", "voip/cdr_pg.py", "from voip.cdr import import_cdr", ".cdr_pg -> .cdr"),
    ("acyclic", "billing/ledger/postings.py", "import billing.bank.queue", ".ledger -> .bank"),
]


@pytest.mark.parametrize(("contract", "module", "line", "reported"), VIOLATIONS,
                         ids=[f"{c}:{m}" for c, m, _, _ in VIOLATIONS])
def test_each_contract_fails_on_a_violation(house: Path, contract: str, module: str, line: str,
                                            reported: str):
    path = house / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = lint_imports(house, contract)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Contracts: 0 kept, 1 broken." in result.stdout, result.stdout
    broken = result.stdout.split("Broken contracts")[1]
    assert f"{contract_names()[contract]}\n" in broken
    assert reported in broken


def test_every_contract_is_broken_by_one_of_the_violations():
    assert {contract for contract, *_ in VIOLATIONS} == set(CONTRACTS)


@pytest.mark.parametrize("package", ["voip", "enforcement"])
def test_a_new_module_must_be_placed_in_a_layer(house: Path, package: str):
    """The package contracts are exhaustive: a module in neither the view layer nor the
    domain layer breaks them until it is declared."""
    (house / package / "console.py").write_text('"""A new room."""\n', encoding="utf-8")
    result = lint_imports(house, f"{package}-views")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"- {package}.console" in result.stdout


def _imports_app(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            lines += [node.lineno for a in node.names if a.name.split(".")[0] == "app"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "app":
                lines.append(node.lineno)
    return lines


def test_no_module_imports_app():
    """app.py (create_app, main) is the top: no module of the packages imports it, also not
    lazily inside a function (the circle app.py <-> web/cli.py of the past)."""
    found = [f"{path.relative_to(ROOT)}:{line}"
             for package in PACKAGES
             for path in sorted((ROOT / package).rglob("*.py"))
             for line in _imports_app(ast.parse(path.read_text(encoding="utf-8")))]
    assert found == []


def test_the_check_of_app_imports_finds_one():
    assert _imports_app(ast.parse("def main():\n    from app import create_app\n")) == [2]
    assert _imports_app(ast.parse("import app.x as y\n")) == [1]
    assert _imports_app(ast.parse("from .app import x\nimport apple\n")) == []


def test_the_ispzone_command_is_app_main():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["project"]["scripts"]["ispzone"] == "app:main"
    import app

    assert callable(app.main)
