"""The house reads in data-flow order: each layer imports only layers below it, and no two
modules import each other (directly or round a loop), whether the import is at the top of a
module or inside a function (a function-local import hides a cycle; it does not remove it).

Families and task kinds are found by the catalog and by `zoo.tasks` from their folders (a
"module:Class" string imported on demand): that lookup is the one way a lower layer reaches a
higher one, and it is not an import statement.
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "zoo"

#: Bottom to top. A module belongs to the longest prefix that names it.
LAYERS = [
    # 0: plain Python, no zoo imports above it
    ("zoo.version", "zoo.registry", "zoo.schema", "zoo.textio", "zoo.atomic", "zoo.safety",
     "zoo.provenance", "zoo.records"),
    # 1: building blocks and data
    ("zoo.layers", "zoo.text", "zoo.datasets", "zoo.data", "zoo.metrics", "zoo.benchmarks",
     "zoo.checkpoints"),
    # 2: model families and the catalog that finds them
    ("zoo.models",),
    # 3: task kinds (input pipelines, objectives, predictions, scores)
    ("zoo.tasks",),
    # 4: published entries (weights, tokenizers, zoo: handle names); benchmark definitions
    # (data that training reads too: a recipe may train on a benchmark's training data)
    ("zoo.entries", "zoo.harness.benchmarks"),
    # 5: TF Hub handles and SavedModel export; other libraries' checkpoints converted into
    # entries and zoo's models exported back to their layout; entries quantized into entries
    ("zoo.hub", "zoo.convert", "zoo.quantize"),
    # 6: families built from other entries' exported parts (a TF Hub handle inside a model)
    ("zoo.models.hub",),
    # 7: training
    ("zoo.training", "zoo.recipes"),
    # 8: the evaluation harness
    ("zoo.harness",),
    # 9: the leaderboard
    ("zoo.leaderboard",),
    # 10: the user's entry points
    ("zoo", "zoo.cli", "zoo.quickstart", "zoo.__main__"),
]


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = level, len(prefix)
    if best is None:
        raise AssertionError(f"{module} is in no layer of tests/test_layering.py::LAYERS")
    return best


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module: str | None = None):
    """`(imported module, line, at top level)` for every import of a zoo module in `path`
    (the module `module`, by default named from its place under zoo/)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    top = {id(node) for node in tree.body}
    module = module or module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            # `from zoo import entries` imports the module zoo.entries
            names = [f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base
                     for alias in node.names]
        else:
            continue
        for name in names:
            if name == "zoo" or name.startswith("zoo."):
                yield name, node.lineno, id(node) in top


def _is_module(name: str) -> bool:
    path = ROOT.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


MODULES = sorted(ROOT.rglob("*.py"))


def test_every_module_is_in_a_layer():
    for path in MODULES:
        layer_of(module_name(path))


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path in MODULES:
        importer = module_name(path)
        for imported, line, _ in imports(path):
            if layer_of(imported) > layer_of(importer):
                upward.append(f"{path.relative_to(ROOT.parent)}:{line}: {importer} "
                              f"(layer {layer_of(importer)}) imports {imported} "
                              f"(layer {layer_of(imported)})")
    assert not upward, "imports against the data flow:\n" + "\n".join(upward)


def _cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("which", ["top-level", "all"])
def test_no_import_cycles(which):
    edges = defaultdict(set)
    for path in MODULES:
        importer = module_name(path)
        for imported, _, at_top in imports(path):
            # A package's own __init__ re-exporting its modules is not a cycle of ideas.
            if imported.startswith(importer + ".") or importer.startswith(imported + "."):
                continue
            if at_top or which == "all":
                edges[importer].add(imported)
    assert _cycles(edges) == []


def test_the_checks_find_what_they_look_for(tmp_path):
    """The checker itself: an upward import and a cycle are caught."""
    assert layer_of("zoo.models.vit.vit_classifier") == 2
    assert layer_of("zoo.models.hub.classifier") == 6
    assert layer_of("zoo.training.train") > layer_of("zoo.tasks.translation")
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from zoo.harness import runner\n", encoding="utf-8")
    found = list(imports(source, "zoo.models.vit.probe"))
    assert found == [("zoo.harness.runner", 2, False)]
    assert layer_of(found[0][0]) > layer_of("zoo.models.vit.probe")


#: The stages: they look families and task kinds up (`zoo.models.catalog`, `zoo.tasks`) and
#: never name one. (The quickstart's own recipes are data, and so are records of old schema
#: versions that `zoo.records` migrates: neither is here.)
STAGES = ("training", "harness", "hub", "leaderboard", "entries.py", "cli.py")


def _named_in_code(path: Path, names: set) -> list:
    """`(line, string)` for each string constant of `path` that is one of `names`, docstrings
    aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in names
            and id(node) not in docstrings]


def test_no_stage_names_a_family_or_a_task_kind():
    """A new family or kind is one folder or module: the training loop, the harness, export,
    the entries, the leaderboard and the command line hold no family's or kind's name (the
    entries listing and the leaderboard's example tables named the kinds)."""
    from zoo import tasks
    from zoo.models import catalog

    names = set(tasks.names()) | set(catalog.families())
    paths = [p for stage in STAGES for p in ([ROOT / stage] if stage.endswith(".py")
                                             else sorted((ROOT / stage).rglob("*.py")))]
    assert len(paths) > 20
    found = {str(p.relative_to(ROOT)): hits for p in paths if (hits := _named_in_code(p, names))}
    assert not found, f"stages name families or task kinds: {found}"
