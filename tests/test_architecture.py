"""The layout holds (docs/architecture.md): no import cycles, a core that imports nothing else of
srbench, nothing in srbench that imports the model zoo, and function-local imports only for heavy
optional dependencies. Read from the source with ast, every import counted wherever it is written."""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "srbench"
# third-party modules that are slow to import or optional: a function may import these where it needs them
DEFERRED = {"basicsr", "datasets", "diffusers", "huggingface_hub", "matplotlib", "ray", "safetensors", "scipy",
            "skimage", "spandrel", "PIL", "pandas", "rich", "torchvision"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def srbench_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The absolute names an import statement asks for (``from a import b`` gives ``a.b``, which may be a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolve against this module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def imports_of(path: Path, modules: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported module or name, line, inside a function) for every import statement of the file."""
    module = module_name(path)
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for name in imported_names(child, module, path.name == "__init__.py"):
                    found.append((name, child.lineno, in_function))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text(), str(path)), False)
    return found


def owning_module(name: str, modules: dict[str, Path]) -> str | None:
    """The srbench module an imported name lives in: the longest known module that is the name or its prefix."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """srbench module -> the srbench modules it imports (a package's __init__ is the package's own node)."""
    modules = srbench_modules()
    graph = {}
    for module, path in modules.items():
        targets = {owning_module(name, modules) for name, _, _ in imports_of(path, modules)}
        graph[module] = {t for t in targets if t and t != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first = last), or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_the_graph_sees_real_imports():
    graph = import_graph()
    assert "srbench.core.errors" in graph["srbench.core.restorer"]
    assert "srbench.bench.store" in graph["srbench.report.leaderboard"]
    assert "srbench.models" in graph["srbench"]  # the package's public API


def test_find_cycle_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    assert find_cycle(import_graph()) is None


def test_the_packages_form_layers():
    """Coarser than modules: no two packages of srbench (core, models, data, attacks, bench, report,
    experiments, cli; the top-level modules count as their own) import each other, even through others."""
    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        packages.setdefault(package(module), set()).update(package(t) for t in targets if package(t) != package(module))
    assert find_cycle(packages) is None
    assert {"srbench.core", "srbench.bench", "srbench.report", "srbench.experiments", "srbench.cli"} <= set(packages)


def test_core_imports_nothing_else_of_srbench():
    outside = {(module, target) for module, targets in import_graph().items() if module.startswith("srbench.core")
               for target in targets if target != "srbench.core" and not target.startswith("srbench.core.")}
    assert not outside


def test_nothing_in_srbench_imports_the_model_zoo():
    modules = srbench_modules()
    offenders = [f"{module}:{line}" for module, path in modules.items() for name, line, _ in imports_of(path, modules)
                 if name == "model_zoo" or name.startswith("model_zoo.")]
    assert not offenders


def test_function_local_imports_only_defer_heavy_dependencies():
    modules = srbench_modules()
    local = sorted({f"{module}:{line} {name.split('.')[0]}" for module, path in modules.items()
                    for name, line, in_function in imports_of(path, modules)
                    if in_function and name.split(".")[0] not in DEFERRED})
    assert not local
