"""Module and function sizes of the application code, per top-level package.

    .venv/bin/python bench/sizes.py              # the working tree
    .venv/bin/python bench/sizes.py --rev 80bae3b  # a commit (read through git, nothing checked out)

Prints one row per top-level package (``app.py`` counts as its own; tests, bench, deploy and
docs are not application code): Python modules, lines (all physical lines, as ``wc -l``),
functions and methods longer than 50 lines (from ``def`` to the last line of the body,
nested functions counted on their own), and the longest function. Then the longest
functions overall, and the largest modules. The tables are Markdown (docs/architecture-sizes.md).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_APP = {"tests", "bench", "deploy", "docs", "demo", "templates", "static", "translations",
           "build", "instance"}
LONG = 50


@dataclass
class Package:
    name: str
    modules: int = 0
    lines: int = 0
    functions: int = 0
    long: list[tuple[int, str]] = field(default_factory=list)  # (lines, module:function)


def app_files(rev: str | None) -> Iterator[tuple[str, str]]:
    """(path, text) of every application module, in the working tree or at ``rev``."""
    if rev:
        names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev], cwd=ROOT,
                               check=True, capture_output=True, text=True).stdout.split()
    else:
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
                 if not any(part.startswith(".") for part in p.relative_to(ROOT).parts)]
    for name in sorted(names):
        parts = name.split("/")
        if not name.endswith(".py") or parts[0] in NOT_APP or "__pycache__" in parts:
            continue
        if len(parts) == 1 and name != "app.py":
            continue  # setup scripts and the like at the top, if any
        if rev:
            text = subprocess.run(["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True,
                                  capture_output=True, text=True).stdout
        else:
            text = (ROOT / name).read_text(encoding="utf-8")
        yield name, text


def functions(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """(qualified name, lines) of every function and method, nested ones too."""
    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                yield name, child.end_lineno - child.lineno + 1
                yield from walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def measure(rev: str | None) -> tuple[dict[str, Package], list[tuple[int, str]]]:
    packages: dict[str, Package] = {}
    modules: list[tuple[int, str]] = []
    for name, text in app_files(rev):
        top = name.split("/")[0]
        package = packages.setdefault(top, Package(top))
        lines = len(text.splitlines())
        package.modules += 1
        package.lines += lines
        modules.append((lines, name))
        for function, length in functions(ast.parse(text, filename=name)):
            package.functions += 1
            if length > LONG:
                package.long.append((length, f"{name}:{function}"))
    return packages, modules


def report(rev: str | None, top: int = 10) -> str:
    packages, modules = measure(rev)
    total = Package("total")
    rows = ["| package | modules | lines | share | functions | > 50 lines | longest function |",
            "|---|--:|--:|--:|--:|--:|---|"]
    all_lines = sum(p.lines for p in packages.values())
    for package in sorted(packages.values(), key=lambda p: -p.lines):
        longest = max(package.long, default=None)
        rows.append(
            f"| {package.name} | {package.modules} | {package.lines:,} | "
            f"{100 * package.lines / all_lines:.0f} % | {package.functions} | "
            f"{len(package.long)} | "
            + (f"`{longest[1].split('/', 1)[-1]}` ({longest[0]})" if longest else "-") + " |")
        total.modules += package.modules
        total.lines += package.lines
        total.functions += package.functions
        total.long += package.long
    rows.append(f"| **total** | {total.modules} | {total.lines:,} | 100 % | {total.functions} | "
                f"{len(total.long)} | |")
    rows += ["", f"Functions longer than {LONG} lines, longest first:", "",
             "| lines | function |", "|--:|---|"]
    rows += [f"| {n} | `{where}` |" for n, where in sorted(total.long, reverse=True)] or ["| - | |"]
    rows += ["", f"The {top} largest modules:", "", "| lines | module |", "|--:|---|"]
    rows += [f"| {n} | `{name}` |" for n, name in sorted(modules, reverse=True)[:top]]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", help="a git commit to measure instead of the working tree")
    args = parser.parse_args()
    print(report(args.rev))


if __name__ == "__main__":
    main()
