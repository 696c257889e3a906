"""The package's structure: no import circles, no upward imports between layers, commands that
do not import each other. Imports are read from the source (every ``import`` statement,
including those inside functions), so a lazy import does not hide a circle."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("edgert", "firmware_bridge")

#: Layers, lowest first: a module may import from its own layer and the ones before it.
LAYERS: list[tuple[str, ...]] = [
    ("edgert._version", "edgert.errors", "edgert._ffi", "edgert._build"),
    ("edgert.engine", "edgert.dsp", "edgert.acquisition"),
    ("edgert.recording",),
    ("edgert.runtime",),
    ("edgert.dataset", "edgert.ingestion", "edgert.studio", "edgert.web"),
    ("edgert.cli", "edgert.daemon", "edgert.eim", "edgert.importer", "edgert.bench",
     "edgert.mcu", "edgert.__main__", "firmware_bridge"),
]


def _modules() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _imports(name: str, path: Path) -> set[str]:
    """Modules of the project that ``name`` imports (submodules resolved when they exist)."""
    tree = ast.parse(path.read_text(), str(path))
    pkg = name if _is_package(name) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
            for t in targets:
                # `import a.b.c` imports a, a.b and a.b.c
                parts = t.split(".")
                found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:
                if f"{mod}.{a.name}" in MODULES:
                    # `from pkg import submodule`: an import of the submodule (the package is
                    # initialised first in any case, as for every submodule import)
                    found.add(f"{mod}.{a.name}")
                else:
                    found.add(mod)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    for i, layer in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in layer):
            return i
    raise AssertionError(f"{module} belongs to no layer: add its package to LAYERS in "
                         f"{Path(__file__).name}")


def test_every_module_has_a_layer():
    for name in MODULES:
        if name not in PACKAGES:
            _layer(name)


def test_no_import_circles():
    # Tarjan's strongly connected components; any component of more than one module is a circle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_no_upward_imports():
    bad = [f"{src} (layer {_layer(src)}) imports {dst} (layer {_layer(dst)})"
           for src, dsts in GRAPH.items() if src not in PACKAGES
           for dst in dsts if dst not in PACKAGES and _layer(dst) > _layer(src)]
    assert not bad, "\n".join(sorted(bad))


def test_nothing_inside_the_package_imports_from_its_root():
    """``edgert/__init__`` re-exports lazily for users; the package's own modules import from
    the module that defines a name, so the root never becomes a hub of circles."""
    bad = [src for src, dsts in GRAPH.items() if src.startswith("edgert.") and "edgert" in dsts]
    assert not bad, f"modules importing from the edgert root package: {sorted(bad)}"


def test_commands_do_not_import_each_other():
    cmds = {m for m in MODULES if m.startswith("edgert.cli.commands.")}
    bad = [f"{a} imports {b}" for a in cmds for b in GRAPH[a] & cmds]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", ["Impulse", "load_recording", "Recording", "Stream",
                                  "ClassificationResult"])
def test_the_names_a_newcomer_tries_first(name):
    import edgert
    assert getattr(edgert, name) is not None
    assert name in dir(edgert)


# ------------------------------------------------------------ one status map, C constants
def test_one_status_map_for_every_status():
    """The DSP blocks and the rest of the binding map every C status to the same exception
    class (there were two maps: ERR_ARG was InputError in one and NativeError in the other,
    ERR_OVERFLOW ConfigurationError vs NativeError)."""
    from edgert import _ffi
    from edgert.dsp import _common
    from edgert.errors import ConfigurationError, InputError
    statuses = [getattr(_ffi.lib, n) for n in dir(_ffi.lib) if n.startswith("EDGERT_ERR_")]
    assert len(statuses) >= 8
    for st in statuses:
        assert type(_common._status_error(st, "x")) is type(_ffi.status_error(st, "x")), st
    assert isinstance(_ffi.status_error(_ffi.lib.EDGERT_ERR_ARG, "x"), InputError)
    assert isinstance(_common._status_error(_ffi.lib.EDGERT_ERR_OVERFLOW, "x"),
                      ConfigurationError)


def test_engine_constants_come_from_the_c_core():
    """The plan's dtype, space and op codes are the header's (read from lib, not copied)."""
    from edgert._ffi import lib
    from edgert.engine import plan
    assert (plan.DT_FLOAT32, plan.DT_INT8, plan.SPACE_ARENA, plan.WIDE_MAX, plan.ALIGN) == (
        lib.EDGERT_DTYPE_FLOAT32, lib.EDGERT_DTYPE_INT8, lib.EDGERT_SPACE_ARENA,
        lib.EDGERT_ENGINE_WIDE_MAX, lib.EDGERT_ARENA_ALIGN)
    assert plan.OP["FULLY_CONNECTED"] == lib.EDGERT_OP_FULLY_CONNECTED
    # no module of the engine assigns a bare integer to an upper-case constant named after a
    # C one (DT_*, SPACE_*, OP_*, WIDE_MAX, ALIGN): they are all read from lib
    for path in (ROOT / "edgert" / "engine").glob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and \
                    isinstance(node.value.value, int):
                for t in node.targets:
                    if isinstance(t, ast.Name) and (
                            t.id.startswith(("DT_", "SPACE_", "OP_")) or
                            t.id in ("WIDE_MAX", "ALIGN")):
                        raise AssertionError(f"{path.name}: {t.id} = {node.value.value} is "
                                             "copied by hand; read it from lib")
