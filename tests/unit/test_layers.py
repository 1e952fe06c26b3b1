"""src/ has no import cycle: every module of rnnbook, imports inside functions included
(those under ``if TYPE_CHECKING:`` are for type checkers only and do not run)."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
MODULES = {".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"): p
           for p in (SRC / "rnnbook").rglob("*.py")}


def _imports(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
            and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" for n in ast.walk(node)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            out.add(base)
            out |= {f"{base}.{a.name}" for a in node.names}  # `from rnnbook import cpu_kernel` is a module
    return {m for m in out if m in MODULES and m != name}


GRAPH = {name: _imports(path, name) for name, path in MODULES.items()}


def test_no_import_cycle():
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(GRAPH[m]):
            if state.get(n) == "open":
                cycle = stack[stack.index(n):] + [n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_imports_first_in_a_fresh_interpreter(name):
    """Import order must not matter: each module, imported first, finds everything it needs."""
    r = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_the_checker_sees_function_level_imports():
    graph = _imports(MODULES["rnnbook.store.provenance"], "rnnbook.store.provenance")
    assert "rnnbook.engine.cpu_kernel" in graph  # imported inside environment()
    importlib.import_module("rnnbook.engine")


#: The package's folders, bottom to top (the package docstring draws them): a module imports only
#: from its own folder or from folders below it. "" is the package itself (rnnbook/__init__.py).
LAYERS = (
    ("errors", "settings", "methods"),  # the vocabulary every layer uses
    ("paper",),       # the paper's model, problems and mathematics, written to be read
    ("engine",),      # the fast engine: many models at once, clipping and Omega inside
    ("store",),       # files on disk: atomic writes, locks, saved states, JSON, provenance
    ("synthetic",),   # runs of the six synthetic problems: declared, trained, stored
    ("natural",),     # Table 1's problems: data, protocols, training by epochs
    ("studies",),     # studies beside the paper's protocol (single trajectories, an LSTM)
    ("verdicts",),    # what the results say: outcomes, statistics, the claims registry
    ("book",),        # presentation: figures, tables, interactive figures, the PDF
    ("campaign",),    # the compute campaign: a queue over every experiment, its ledger
    ("cli", "__main__", ""),
)
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def _folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_sits_in_a_declared_folder():
    assert {_folder(m) for m in MODULES} <= set(RANK), sorted({_folder(m) for m in MODULES} - set(RANK))


def test_no_module_imports_from_a_folder_above_its_own():
    upward = [f"{m} -> {n}" for m in sorted(GRAPH) for n in sorted(GRAPH[m])
              if n != "rnnbook" and RANK[_folder(n)] > RANK[_folder(m)]]  # `import rnnbook`: its version only
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_the_package_docstring_draws_every_folder():
    import rnnbook

    folders = {p.name for p in (SRC / "rnnbook").iterdir() if (p / "__init__.py").exists()}
    missing = [f for f in sorted(folders) if f"{f}/" not in rnnbook.__doc__]
    assert not missing, f"folders missing from rnnbook's docstring: {missing}"


def test_the_package_docstrings_walk_names_only_what_exists():
    """The hops the package docstring walks (e.g. the clipping threshold from --set to Algorithm 1)
    name real modules, classes and functions: a rename that forgets the walk fails here."""
    import re

    import rnnbook

    names = re.findall(r":(?:mod|func|class|meth|data):`~?([\w.]+)`", rnnbook.__doc__)
    assert len(names) >= 8
    for name in names:
        parts = name.split(".")
        for i in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            for attr in parts[i:]:
                obj = getattr(obj, attr)
            break
        else:
            pytest.fail(f"{name} names nothing")
