"""Every audit event name the source can write, found by reading the source (AST).

An event is written by ``record_event(session, NAME, ...)``, by an audit
batcher's ``.add(NAME, ...)``, or by a field dict ``{"event": NAME, ...}``
given to ``checked_fields``/``append_events``. ``NAME`` may be a literal, a
module constant, a conditional of those, or a parameter of the enclosing
function or a local variable assigned from those; a parameter is followed
to every call of that function in the source (by keyword or position),
recursively. Anything else is reported as
unresolved, so a new way of naming events cannot slip past the check.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "authsome"
_DICT_TAKERS = {"checked_fields", "append_events", "_append"}


@dataclass
class _Module:
    path: Path
    tree: ast.Module
    constants: dict[str, str]
    parents: dict[ast.AST, ast.AST]
    imported: set[str]


@dataclass
class Scan:
    names: dict[str, set[str]] = field(default_factory=dict)  # name -> "file:line"
    unresolved: list[str] = field(default_factory=list)


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _load(path: Path) -> _Module:
    tree = ast.parse(path.read_text(), str(path))
    constants = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    return _Module(path, tree, constants, parents, imported)


def _enclosing_function(module: _Module, node: ast.AST) -> ast.FunctionDef | None:
    current: ast.AST | None = node
    while current is not None:
        current = module.parents.get(current)
        if isinstance(current, ast.FunctionDef | ast.AsyncFunctionDef):
            return current  # type: ignore[return-value]
    return None


def _local_values(function: ast.FunctionDef, name: str) -> list[ast.expr]:
    """Values assigned to the local ``name`` in ``function`` (``name = ...``)."""
    return [
        node.value
        for node in ast.walk(function)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    ]


def _params(function: ast.FunctionDef) -> list[str]:
    args = function.args
    return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]


class _Scanner:
    def __init__(self) -> None:
        self.modules = [_load(path) for path in sorted(SRC.rglob("*.py"))]
        self.scan = Scan()
        self._following: set[tuple[str, str]] = set()

    def run(self) -> Scan:
        for module in self.modules:
            for node in ast.walk(module.tree):
                if isinstance(node, ast.Call):
                    self._visit_call(module, node)
        return self.scan

    def _visit_call(self, module: _Module, call: ast.Call) -> None:
        name = _call_name(call)
        if name == "record_event" and len(call.args) >= 2:
            self._resolve(module, call.args[1], call)
        elif (
            name == "add"
            and isinstance(call.func, ast.Attribute)
            and "audit" in ast.unparse(call.func.value)
            and call.args
        ):
            self._resolve(module, call.args[0], call)
        elif name in _DICT_TAKERS and not self._is_writer_entry(module, call):
            for argument in call.args:
                for item in self._dicts(argument):
                    for key, value in zip(item.keys, item.values, strict=True):
                        if isinstance(key, ast.Constant) and key.value == "event":
                            self._resolve(module, value, call)

    def _is_writer_entry(self, module: _Module, call: ast.Call) -> bool:
        """``record_event``/``AuditBatcher.add`` pass their own ``event`` on: already covered."""
        function = _enclosing_function(module, call)
        return (
            module.path == SRC / "audit" / "writer.py"
            and function is not None
            and (function.name in {"record_event", "add"})
        )

    def _dicts(self, node: ast.AST) -> Iterator[ast.Dict]:
        if isinstance(node, ast.Dict):
            yield node
        elif isinstance(node, ast.List | ast.Tuple):
            for element in node.elts:
                yield from self._dicts(element)

    def _where(self, module: _Module, node: ast.AST) -> str:
        return f"{module.path.relative_to(SRC)}:{getattr(node, 'lineno', '?')}"

    def _resolve(self, module: _Module, value: ast.AST, at: ast.AST) -> None:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            self.scan.names.setdefault(value.value, set()).add(self._where(module, at))
        elif isinstance(value, ast.Name) and self._constant(module, value.id) is not None:
            name = self._constant(module, value.id)
            assert name is not None
            self.scan.names.setdefault(name, set()).add(self._where(module, at))
        elif isinstance(value, ast.IfExp):
            self._resolve(module, value.body, at)
            self._resolve(module, value.orelse, at)
        elif isinstance(value, ast.Name):
            function = _enclosing_function(module, at)
            assigned = _local_values(function, value.id) if function is not None else []
            if assigned:
                for item in assigned:
                    self._resolve(module, item, at)
                return
            if function is None or value.id not in _params(function):
                self.scan.unresolved.append(f"{self._where(module, at)}: {value.id}")
                return
            self._follow(function, value.id, self._where(module, at))
        else:
            self.scan.unresolved.append(f"{self._where(module, at)}: {ast.unparse(value)}")

    def _constant(self, module: _Module, name: str) -> str | None:
        """A module constant, or one imported by name from another module of the package."""
        if name in module.constants:
            return module.constants[name]
        if name in module.imported:
            values = {m.constants[name] for m in self.modules if name in m.constants}
            if len(values) == 1:
                return values.pop()
        return None

    def _follow(self, function: ast.FunctionDef, param: str, where: str) -> None:
        key = (function.name, param)
        if key in self._following:
            return
        self._following.add(key)
        position = _params(function).index(param)
        found = False
        is_method = _params(function)[:1] in (["self"], ["cls"])
        home = next(m for m in self.modules if function in m.parents or function in m.tree.body)
        for module in self.modules:
            if not (is_method or module is home or function.name in module.imported):
                continue  # a same-named function elsewhere is another function
            for node in ast.walk(module.tree):
                if not isinstance(node, ast.Call) or _call_name(node) != function.name:
                    continue
                for keyword in node.keywords:
                    if keyword.arg == param:
                        self._resolve(module, keyword.value, node)
                        found = True
                offset = 1 if is_method else 0
                if len(node.args) > position - offset >= 0 and not any(
                    isinstance(a, ast.Starred) for a in node.args
                ):
                    self._resolve(module, node.args[position - offset], node)
                    found = True
        if not found:
            self.scan.unresolved.append(f"{where}: parameter {param} of {function.name}")


def scan_event_names() -> Scan:
    return _Scanner().run()
