"""docs/architecture.md against the code: no module imports a layer its row does not name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "intercom_destination"
SOURCE = ROOT / "src" / PACKAGE
DOCUMENT = ROOT / "docs" / "architecture.md"
HEADER = re.compile(r"^\|\s*layer\s*\|.*\|\s*may import\s*\|\s*$")


def read_layers(text: str) -> dict[str, set[str]]:
    """The table under the header `| layer | … | may import |`: each layer and what it may import."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if HEADER.match(line)), None)
    assert start is not None, f"{DOCUMENT.name} has no table headed `| layer | … | may import |`"
    layers: dict[str, set[str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        (layer,) = re.findall(r"`([^`]+)`", cells[0])
        layers[layer] = set(re.findall(r"`([^`]+)`", cells[-1]))
    return layers


def layer_of(module: str) -> str:
    """`intercom_destination.store.sqlite` is in the layer `store`; the package's own
    `__init__` is the layer `intercom_destination`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


def module_name(path: Path, source: Path = SOURCE) -> str:
    parts = path.relative_to(source.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, source: Path = SOURCE) -> list[tuple[int, str]]:
    """Each of the package's modules that `path` imports (at any depth, TYPE_CHECKING
    included), with the line: `from intercom_destination import logs` imports the module
    `logs`, not the package's `__init__`."""
    name = module_name(path, source)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                file = source.parent / submodule.replace(".", "/")
                is_module = file.with_suffix(".py").exists() or file.is_dir()
                found.append((node.lineno, submodule if is_module else target))
    return [(line, module) for line, module in found if module.split(".")[0] == PACKAGE]


def upward_imports(layers: dict[str, set[str]], source: Path = SOURCE) -> list[str]:
    problems = []
    for path in sorted(source.rglob("*.py")):
        layer = layer_of(module_name(path, source))
        for line, module in imported_modules(path, source):
            target = layer_of(module)
            if target != layer and target not in layers.get(layer, set()):
                where = path.relative_to(source.parent).as_posix()
                problems.append(
                    f"{where}:{line} imports {module}: `{layer}` may not import `{target}`"
                )
    return problems


@pytest.fixture(scope="module")
def layers() -> dict[str, set[str]]:
    return read_layers(DOCUMENT.read_text())


def test_every_module_is_in_a_layer_of_the_table(layers: dict[str, set[str]]) -> None:
    unknown = sorted(
        str(path.relative_to(ROOT))
        for path in SOURCE.rglob("*.py")
        if layer_of(module_name(path)) not in layers
    )
    assert unknown == [], f"modules in no layer of {DOCUMENT.name}: add a row for them"


def test_every_layer_of_the_table_is_in_the_code(layers: dict[str, set[str]]) -> None:
    present = {layer_of(module_name(path)) for path in SOURCE.rglob("*.py")}
    named = set(layers) | set().union(*layers.values())
    assert sorted(named - present) == []


def test_the_table_has_no_cycle(layers: dict[str, set[str]]) -> None:
    """Layers, not a web: no layer may import, through others, one that may import it."""

    def reaches(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(layers[start])
        while todo:
            layer = todo.pop()
            if layer not in seen:
                seen.add(layer)
                todo += layers.get(layer, set())
        return seen

    assert [layer for layer in layers if layer in reaches(layer)] == []


def test_no_module_imports_a_layer_its_row_does_not_name(layers: dict[str, set[str]]) -> None:
    assert upward_imports(layers) == []


def test_an_upward_import_is_found(tmp_path: Path) -> None:
    table = "| layer | what | may import |\n|---|---|---|\n| `spec` | x | — |\n| `store` | y | `spec` |\n"
    assert read_layers(table) == {"spec": set(), "store": {"spec"}}
    source = tmp_path / PACKAGE
    for name, text in {
        "__init__.py": "",
        "logs.py": "",
        "store/__init__.py": "from intercom_destination.spec import decode\n",
        "spec/__init__.py": "",
        "spec/decode.py": "from ..store import rows\n",
        "spec/wire.py": "import json\n\nfrom intercom_destination import logs, spec\n",
    }.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    assert upward_imports(read_layers(table), source) == [
        "intercom_destination/spec/decode.py:1 imports intercom_destination.store: "
        "`spec` may not import `store`",
        "intercom_destination/spec/wire.py:3 imports intercom_destination.logs: "
        "`spec` may not import `logs`",
    ]
