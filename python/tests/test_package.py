"""The package itself: its stubs match the native module, its objects say what they are."""

from __future__ import annotations

import ast
import pathlib

import vesalius
from vesalius import _vesalius

STUB = pathlib.Path(vesalius.__file__).with_name("_vesalius.pyi")


def stub_classes():
    tree = ast.parse(STUB.read_text())
    classes = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
            bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
            classes[node.name] = (names, bases)
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    return classes, functions


def test_the_stubs_describe_the_native_module():
    classes, functions = stub_classes()
    for name in functions:
        assert callable(getattr(_vesalius, name)), name
    for name, (methods, bases) in classes.items():
        if name.startswith("_") or "TypedDict" in bases or "Exception" in bases or any(
            b.endswith("Error") for b in bases
        ):
            continue
        runtime = getattr(_vesalius, name)
        stubbed = set(methods)
        for b in bases:
            stubbed |= classes.get(b, (set(), []))[0]
        public = {m for m in dir(runtime) if not m.startswith("_")}
        assert public <= stubbed, f"{name}: not in the stub: {sorted(public - stubbed)}"
        missing = {m for m in stubbed if not m.startswith("__") and not hasattr(runtime, m)}
        assert not missing, f"{name}: in the stub only: {sorted(missing)}"
    exported = {n for n in dir(_vesalius) if not n.startswith("_")}
    assert exported <= set(classes) | functions, sorted(exported - set(classes) - functions)


def test_everything_public_has_a_docstring():
    for name in vesalius.__all__:
        obj = getattr(vesalius, name)
        assert obj.__doc__, name
        for attr in dir(obj):
            if attr.startswith("_") or isinstance(obj, type) and issubclass(obj, Exception):
                continue
            assert getattr(obj, attr).__doc__, f"{name}.{attr}"


def test_open_picks_the_kind_of_run(indenter):
    from conftest import SCENES

    assert isinstance(vesalius.open(indenter), vesalius.CoSim)
    t = vesalius.open(SCENES / "block_sag.toml", backend="cpu")
    assert isinstance(t, vesalius.Tissue)
    assert repr(t).startswith("<vesalius.Tissue")
