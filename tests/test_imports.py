"""How the modules fit together: no import cycles, a size budget, and an import that needs NumPy alone.

The import graph is read from the source with ``ast``: every import of a chainrule module, at module
level or inside a function, except those under ``if TYPE_CHECKING:`` (never run). A relative
``from . import x`` names the submodule x when there is one, else the package.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = "chainrule"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE

MODEL_BUDGET = 300  # lines of model.py
MODULE_BUDGET = 400  # lines of any other module


# ------------------------------------------------------------------ reading the graph
def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``root`` (a package's name is its __init__)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class ImportCollector(ast.NodeVisitor):
    """Every Import/ImportFrom node that runs: in any scope, but not in the body of ``if TYPE_CHECKING:``."""

    def __init__(self) -> None:
        self.nodes: list[ast.Import | ast.ImportFrom] = []

    def visit_If(self, node: ast.If) -> None:
        if is_type_checking(node.test):
            for child in node.orelse:  # an else branch does run
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.nodes.append(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.nodes.append(node)


def imported_modules(name: str, path: Path, modules: dict[str, Path], package: str) -> dict[str, int]:
    """The package's modules that module ``name`` imports, each with the first line that does."""
    collector = ImportCollector()
    collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]  # the package ``.`` refers to
    found: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        if target != name:
            found.setdefault(target, line)

    for node in collector.nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = alias.name
                while target and target not in modules:  # import chainrule.a.b: the deepest module it names
                    target = target.rpartition(".")[0]
                if target:
                    add(target, node.lineno)
            continue
        if node.level:
            base = here.split(".")
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        if source != package and not source.startswith(package + "."):
            continue
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            if submodule in modules:
                add(submodule, node.lineno)
            elif source in modules:
                add(source, node.lineno)
    return found


def import_graph(root: Path, package: str) -> dict[str, dict[str, int]]:
    modules = module_files(root, package)
    return {name: imported_modules(name, path, modules, package) for name, path in modules.items()}


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One cycle (as a closed path a -> ... -> a) through each strongly connected component that has one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, {}):
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    cycles = []
    for component in components:
        members, start = set(component), min(component)
        path, seen = [start], {start}
        while True:  # walk inside the component until a module repeats
            nxt = next(w for w in sorted(graph[path[-1]]) if w in members)
            if nxt in seen:
                cycles.append(path[path.index(nxt) :] + [nxt])
                break
            path.append(nxt)
            seen.add(nxt)
    return cycles


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    return "\n".join(f"  {a} imports {b} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:]))


# ------------------------------------------------------------------ the checks
def test_the_walker_finds_a_cycle_through_a_function_and_ignores_type_checking(tmp_path):
    pkg = tmp_path / "demo"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n    return b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from .. import c\nfrom ..a import f\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\nelse:\n    import demo.sub\n"
    )
    graph = import_graph(pkg, "demo")
    assert graph == {
        "demo": {"demo.a": 1},
        "demo.a": {"demo.sub.b": 2},
        "demo.c": {"demo.sub": 5},
        "demo.sub": {},
        "demo.sub.b": {"demo.c": 1, "demo.a": 2},
    }
    assert find_cycles(graph) == [["demo.a", "demo.sub.b", "demo.a"]]


def test_no_import_cycles():
    graph = import_graph(SRC, PACKAGE)
    edges = sum(len(targets) for targets in graph.values())
    print(f"{len(graph)} modules, {edges} imports among them")
    assert len(graph) > 20 and edges > 20, "the walker found too little to be reading the package"
    assert {"chainrule.core.model", "chainrule.io"} <= set(graph["chainrule"])  # the package imports its parts
    cycles = find_cycles(graph)
    for cycle in cycles:
        print("import cycle:\n" + describe(cycle, graph))
    assert not cycles, "import cycles:\n" + "\n\n".join(describe(c, graph) for c in cycles)
    print("no import cycle")


def test_lower_modules_do_not_import_the_model():
    graph = import_graph(SRC, PACKAGE)
    lows = ("chainrule.io", "chainrule.layers", "chainrule.core.losses", "chainrule.core.callbacks")
    lows += ("chainrule.core.objective",)
    for low in lows:
        assert "chainrule.core.model" not in graph[low], (
            f"{low} imports chainrule.core.model (line {graph[low]['chainrule.core.model']})"
        )


def line_counts() -> dict[str, int]:
    return {
        str(path.relative_to(SRC.parent)): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(SRC.rglob("*.py"))
    }


def test_model_py_fits_its_budget():
    lines = line_counts()[f"{PACKAGE}/core/model.py"]
    print(f"{PACKAGE}/core/model.py: {lines} lines (budget {MODEL_BUDGET})")
    assert lines <= MODEL_BUDGET, f"{PACKAGE}/model.py has {lines} lines; the budget is {MODEL_BUDGET}"


# Modules known to be over the budget, each with what is wrong; the xfail is strict, so a fix shows.
OVER_BUDGET: dict[str, str] = {}


@pytest.mark.parametrize(
    "module",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=OVER_BUDGET[name]))
        if name in OVER_BUDGET
        else name
        for name in line_counts()
    ],
)
def test_no_module_is_over_the_size_budget(module):
    lines = line_counts()[module]
    if lines > MODULE_BUDGET:
        print(f"{module}: {lines} lines (budget {MODULE_BUDGET})")
    assert lines <= MODULE_BUDGET, f"{module} has {lines} lines; the budget is {MODULE_BUDGET}"


BLOCKED = ("torch", "sklearn", "matplotlib", "scipy", "tqdm", "dask", "onnx")


def test_import_works_with_numpy_alone():
    # None in sys.modules makes any import of that name fail, as if it were not installed
    code = "\n".join(
        [
            "import sys",
            f"for name in {BLOCKED!r}:",
            "    sys.modules[name] = None",
            "import numpy as np",
            "import chainrule as cr",
            "model = cr.mlp([2, 3, 1], 'tanh', 'sigmoid', seed=0)",
            "X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])",
            "history = model.fit(X, [0.0, 1.0, 1.0, 0.0], loss='bce', optimizer='sgd', epochs=2)",
            "assert len(history) == 2 and model.predict(X).shape == (4, 1)",
            f"loaded = [name for name in {BLOCKED!r} if sys.modules.get(name) is not None]",
            "assert not loaded, loaded",
            "print('ok')",
        ]
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_numpy_alone_check_can_fail():
    code = "import sys; sys.modules['numpy'] = None; import chainrule"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "import of numpy halted" in result.stderr
