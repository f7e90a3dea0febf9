"""A FHIRPath subset compiled to DuckDB SQL over FHIR resource JSON.

Supported: paths (into arrays, flattening, per the R4B element cardinalities of fhir.resources), `$this`,
`%constants` (and `%resource`), string / boolean / number literals, `=` `!=` `and` `or` `|` (union, kept in
order, not de-duplicated), and the functions `where(c)`, `exists([c])`, `empty()`, `first()`, `count()`,
`ofType(T)` (choice elements such as `onset.ofType(Age)` and resource types), `extension(url)`, `join([sep])`,
`not()`, `lower()`, `upper()`, `contains(s)`, `startsWith(s)`, `getResourceKey()`, `getReferenceKey([Type])`.
Anything else raises UnsupportedFhirPath naming the expression.

Semantics that differ from full FHIRPath, on purpose: `=` / `!=` and string functions read the first item of a
collection; `|` keeps order and duplicates (so `(a | b).first()` is "a, else b"); choice elements (`value[x]`)
need `ofType()` unless written out (`valueString`). Keys: getResourceKey() is `Type/id`; getReferenceKey() is the
`Type/id` a reference names (absolute, relative and versioned references reduced to it) or the `urn:…` it carries
(matched against Bundle fullUrls), NULL for what cannot resolve (contained, conditional).

Values are never spliced into SQL: literals become named parameters (`$fp1`, …) returned with the SQL.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")

# Element names that are arrays wherever FHIR R4 uses them, for contexts whose type is unknown.
KNOWN_LIST_ELEMENTS = frozenset({"extension", "modifierExtension", "identifier", "coding", "category", "tag",
                                 "profile", "security", "member", "series", "instance", "content", "given",
                                 "telecom", "address", "contained", "keyword", "focus", "parent", "entry"})

# SQL types of column `type`s (FHIR primitive names, plus a few SQL-ish ones).
COLUMN_TYPES: dict[str, str] = {
    "string": "VARCHAR", "code": "VARCHAR", "id": "VARCHAR", "uri": "VARCHAR", "url": "VARCHAR",
    "canonical": "VARCHAR", "oid": "VARCHAR", "uuid": "VARCHAR", "markdown": "VARCHAR", "base64Binary": "VARCHAR",
    "date": "VARCHAR", "dateTime": "VARCHAR", "instant": "VARCHAR", "time": "VARCHAR",
    "boolean": "BOOLEAN", "integer": "INTEGER", "positiveInt": "INTEGER", "unsignedInt": "INTEGER",
    "integer64": "BIGINT", "decimal": "DOUBLE",
}


class UnsupportedFhirPath(ValueError):
    """A FHIRPath expression (or part of one) this compiler does not handle."""


# ---------------------------------------------------------------- schema (R4B element cardinalities and types)

@dataclass(frozen=True)
class Element:
    is_list: bool
    type_name: str | None  # a complex type / backbone element name, or a primitive name, or None (unknown)
    is_choice: bool = False


_PRIMITIVES: dict[type, str] = {bool: "boolean", int: "integer", float: "decimal", str: "string"}


def _unwrap(annotation: Any) -> tuple[bool, Any]:
    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin in (list, typing.List):  # noqa: UP006 - fhir.resources annotates with typing.List
            is_list = True
            annotation = args[0]
        elif origin is typing.Annotated:
            annotation = args[0]
        elif args and origin is not None:  # Optional / Union
            annotation = args[0]
        else:
            return is_list, annotation


@cache
def _fields(type_name: str) -> dict[str, Element] | None:
    try:
        from fhir.resources.R4B import get_fhir_model_class  # a large package: imported on first use

        model = get_fhir_model_class(type_name)
    except (KeyError, ValueError, ImportError, AttributeError):
        return None
    elements: dict[str, Element] = {}
    for field_name, info in model.model_fields.items():
        is_list, inner = _unwrap(info.annotation)
        name = info.alias or field_name
        inner_name = getattr(inner, "__name__", "")
        if inner in _PRIMITIVES:
            child: str | None = _PRIMITIVES[inner]
        elif inner_name.endswith("Type") and inner_name != "Type":
            child = inner_name.removesuffix("Type")
        elif "Decimal" in inner_name:
            child = "decimal"
        else:
            child = "string" if inner_name in ("date", "datetime", "time") else None
        elements[name] = Element(is_list, child)
    return elements


def element(type_name: str | None, name: str) -> Element:
    """Cardinality and type of `name` in `type_name` (unknown type or element: by KNOWN_LIST_ELEMENTS)."""
    fields = _fields(type_name) if type_name else None
    if fields is None:
        return Element(name in KNOWN_LIST_ELEMENTS, None)
    if name in fields:
        return fields[name]
    if name.startswith("_"):  # a primitive's extensions, e.g. _collectedDateTime
        return Element(False, "Element")
    if any(key.startswith(name) and key[len(name):len(name) + 1].isupper() for key in fields):
        return Element(False, None, is_choice=True)
    return Element(name in KNOWN_LIST_ELEMENTS, None)


def is_resource_type(type_name: str) -> bool:
    """A resource (it has `meta`), as opposed to a data type or backbone element."""
    fields = _fields(type_name) if RESOURCE_TYPE.fullmatch(type_name) else None
    return fields is not None and "meta" in fields


# ---------------------------------------------------------------- parsing

_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<constant>%[A-Za-z_][A-Za-z0-9_]*|%`[^`]*`)
  | (?P<this>\$this)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)
  | (?P<op>!=|[.()|,=])
)""", re.VERBOSE)


@dataclass(frozen=True)
class Node:
    kind: str  # "this", "step", "call", "literal", "constant", "binary"
    name: str = ""
    base: Node | None = None
    args: tuple[Node, ...] = ()
    value: Any = None


_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "n": "\n", "r": "\r", "t": "\t", "f": "\f"}


def _unescape(body: str) -> str:
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)",
                  lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1).startswith("u") and len(m.group(1)) == 5
                  else _ESCAPES.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = expression.rstrip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise UnsupportedFhirPath(f"cannot parse FHIRPath {expression!r} at {text[position:]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise UnsupportedFhirPath(f"cannot parse FHIRPath {self.expression!r}: expected {value or 'more'}")
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.binary(0)
        if self.peek() is not None:
            raise UnsupportedFhirPath(f"unsupported FHIRPath {self.expression!r} near {self.peek()[1]!r}")  # type: ignore[index]
        return node

    _LEVELS: tuple[tuple[str, ...], ...] = (("or",), ("and",), ("=", "!="), ("|",))

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.term()
        node = self.binary(level + 1)
        while (token := self.peek()) is not None and token[1] in self._LEVELS[level] and token[0] in ("op", "ident"):
            self.take()
            node = Node("binary", token[1], args=(node, self.binary(level + 1)))
        if (token := self.peek()) is not None and token[0] == "ident" and token[1] in ("xor", "implies", "in",
                                                                                      "contains", "is", "as",
                                                                                      "div", "mod"):
            raise UnsupportedFhirPath(f"unsupported FHIRPath operator {token[1]!r} in {self.expression!r}")
        return node

    def term(self) -> Node:
        node = self.primary()
        while (token := self.peek()) is not None and token[1] == ".":
            self.take()
            node = self.invocation(node)
        return node

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "string":
            return Node("literal", value=_unescape(text[1:-1]))
        if kind == "number":
            return Node("literal", value=float(text) if "." in text else int(text))
        if kind == "constant":
            return Node("constant", text[1:].strip("`"))
        if kind == "this":
            return Node("this")
        if text == "(":
            node = self.binary(0)
            self.take(")")
            return node
        if kind == "ident":
            if text in ("true", "false"):
                return Node("literal", value=text == "true")
            self.index -= 1
            return self.invocation(Node("this"))
        raise UnsupportedFhirPath(f"unsupported FHIRPath {self.expression!r} near {text!r}")

    def invocation(self, base: Node) -> Node:
        kind, text = self.take()
        if kind != "ident":
            raise UnsupportedFhirPath(f"cannot parse FHIRPath {self.expression!r} near {text!r}")
        name = text.strip("`")
        token = self.peek()
        if token is not None and token[1] == "(":
            self.take("(")
            args: list[Node] = []
            if (token := self.peek()) is not None and token[1] != ")":
                args.append(self.binary(0))
                while (token := self.peek()) is not None and token[1] == ",":
                    self.take(",")
                    args.append(self.binary(0))
            self.take(")")
            return Node("call", name, base, tuple(args))
        return Node("step", name, base)


def parse(expression: str) -> Node:
    """The syntax tree of a FHIRPath expression (UnsupportedFhirPath when it cannot be parsed)."""
    return _Parser(expression).parse()


# ---------------------------------------------------------------- compiling

def _union_branches(node: Node) -> list[Node]:
    """The operands of a chain of `|` (left to right)."""
    if node.kind == "binary" and node.name == "|":
        return [branch for arg in node.args for branch in _union_branches(arg)]
    return [node]


@dataclass(frozen=True)
class Value:
    """A compiled collection. shape: "path" (json_extract(base, path); `many` when the path has [*]), "one"
    (a JSON value or NULL), "many" (a JSON[] list), "scalar" (a SQL value of `sql_type`, NULL for empty)."""

    shape: str
    sql: str = ""
    base: str = ""
    path: str = "$"
    many: bool = False
    type_name: str | None = None
    sql_type: str = "VARCHAR"
    choice: str | None = None  # a choice element awaiting ofType(): its base value and name


@dataclass
class Compiler:
    """Compiles expressions against a root resource (`root` SQL, `resource_type`) with named constants."""

    root: str
    resource_type: str
    constants: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    row_key_sql: str | None = None  # SQL of the root's `Type/id` (faster than reading it from the JSON)
    # When set, paths read from the root go through one multi-path json_extract (the JSON is parsed once per row):
    # `root_paths` collects them and `{slots}[k]` reads the k-th.
    slots: str | None = None
    root_paths: list[str] = field(default_factory=list)
    root_arrays: list[str] = field(default_factory=list)  # root paths whose items are read: `<row>.array<k>`
    _lambda_count: int = 0
    _expression: str = ""

    def root_value(self) -> Value:
        return Value("path", base=self.root, type_name=self.resource_type)

    def compile(self, expression: str, context: Value | None = None) -> Value:
        self._expression = expression
        return self.node(parse(expression), context or self.root_value())

    # --- helpers turning a value into SQL
    def extract(self, base: str, path: str, string: bool = False) -> str:
        """json_extract[_string](base, path), reading root paths from the row's pre-extracted slots."""
        function = "json_extract_string" if string else "json_extract"
        if base != self.root or self.slots is None or path == "$":
            return f"{function}({base}, '{path}')"
        prefix, star, rest = path.partition("[*]")
        if prefix not in self.root_paths:
            self.root_paths.append(prefix)
        slot = f"{self.slots}[{self.root_paths.index(prefix) + 1}]"
        if star and not rest and not string:  # the items of a root array: split once per row (`arrays`)
            if prefix not in self.root_arrays:
                self.root_arrays.append(prefix)
            return f"{self.slots.rpartition('.')[0]}.array{self.root_arrays.index(prefix) + 1}"
        if star:  # an absent array reads as an empty list, as json_extract of the whole path would give
            empty = "VARCHAR[]" if string else "JSON[]"
            return f"coalesce({function}({slot}, '${star}{rest}'), CAST([] AS {empty}))"
        return f"{function}({slot}, '$')" if string else slot

    def param(self, value: Any) -> str:
        name = f"fp{len(self.params) + 1}"
        self.params[name] = value
        return f"${name}"

    def as_list(self, v: Value) -> str:
        self.settle(v)
        if v.shape == "path":
            return self.extract(v.base, v.path) if v.many else \
                f"list_filter([{self.extract(v.base, v.path)}], lambda v_: v_ IS NOT NULL)"
        if v.shape == "one":
            return f"list_filter([{v.sql}], lambda v_: v_ IS NOT NULL)"
        if v.shape == "many":
            return v.sql
        return f"list_filter([to_json({v.sql})], lambda v_: v_ IS NOT NULL)"

    def as_one(self, v: Value) -> str:
        self.settle(v)
        if v.shape == "path":
            if v.many and v.path.endswith("[*]") and v.path.count("[*]") == 1:
                return self.extract(v.base, v.path[:-3] + "[0]")
            return f"{self.extract(v.base, v.path)}[1]" if v.many else self.extract(v.base, v.path)
        if v.shape == "one":
            return v.sql
        if v.shape == "many":
            return f"({v.sql})[1]"
        return f"to_json({v.sql})"

    def as_text(self, v: Value) -> str:
        self.settle(v)
        if v.shape == "path":
            if v.many and v.path.endswith("[*]") and v.path.count("[*]") == 1:
                return self.extract(v.base, v.path[:-3] + "[0]", string=True)
            return (f"{self.extract(v.base, v.path, string=True)}[1]" if v.many
                    else self.extract(v.base, v.path, string=True))
        if v.shape == "scalar":
            return v.sql if v.sql_type == "VARCHAR" else f"CAST({v.sql} AS VARCHAR)"
        return f"json_extract_string({self.as_one(v)}, '$')"

    def as_texts(self, v: Value) -> str:
        self.settle(v)
        if v.shape == "path" and v.many:
            return self.extract(v.base, v.path, string=True)
        return f"list_transform({self.as_list(v)}, lambda t_: json_extract_string(t_, '$'))"

    def as_bool(self, v: Value) -> str:
        if v.shape == "scalar" and v.sql_type == "BOOLEAN":
            return v.sql
        return f"TRY_CAST({self.as_text(v)} AS BOOLEAN)"

    def settle(self, v: Value) -> None:
        if v.choice is not None:
            raise UnsupportedFhirPath(f"choice element {v.choice!r} needs ofType() in {self._expression!r}")

    def fail(self, what: str) -> UnsupportedFhirPath:
        return UnsupportedFhirPath(f"unsupported FHIRPath {what} in {self._expression!r}")

    # --- the tree
    def node(self, node: Node, this: Value) -> Value:
        if node.kind == "this":
            return this
        if node.kind == "literal":
            sql_type = {bool: "BOOLEAN", int: "BIGINT", float: "DOUBLE"}.get(type(node.value), "VARCHAR")
            return Value("scalar", self.param(node.value), sql_type=sql_type)
        if node.kind == "constant":
            if node.name in ("resource", "rootResource", "context"):
                return self.root_value()
            if node.name not in self.constants:
                raise UnsupportedFhirPath(f"unknown constant %{node.name} in {self._expression!r}")
            return self.node(Node("literal", value=self.constants[node.name]), this)
        if node.kind == "step":
            assert node.base is not None
            return self.step(self.node(node.base, this), node.name)
        if node.kind == "binary":
            return self.binary(node, this)
        return self.call(node, this)

    def step(self, v: Value, name: str) -> Value:
        self.settle(v)
        if not NAME.fullmatch(name):
            raise self.fail(f"element name {name!r}")
        if v.shape == "scalar":
            raise self.fail(f"path step .{name} on a computed value")
        info = element(v.type_name, name)
        if info.is_choice:
            return replace(v, choice=name)
        suffix = f".{name}" + ("[*]" if info.is_list else "")
        if v.shape == "path":
            return Value("path", base=v.base, path=v.path + suffix, many=v.many or info.is_list,
                         type_name=info.type_name)
        if v.shape == "one":
            return Value("path", base=v.sql, path="$" + suffix, many=info.is_list, type_name=info.type_name)
        var = self.lambda_var()
        each = f"list_transform({v.sql}, lambda {var}: json_extract({var}, '${suffix}'))"
        sql = f"flatten({each})" if info.is_list else f"list_filter({each}, lambda v_: v_ IS NOT NULL)"
        return Value("many", sql, type_name=info.type_name)

    def lambda_var(self) -> str:
        self._lambda_count += 1
        return f"x{self._lambda_count}"

    def binary(self, node: Node, this: Value) -> Value:
        left, right = (self.node(arg, this) for arg in node.args)
        if node.name in ("and", "or"):
            return Value("scalar", f"({self.as_bool(left)} {node.name.upper()} {self.as_bool(right)})",
                         sql_type="BOOLEAN")
        if node.name == "|":
            sql = f"list_concat({self.as_list(left)}, {self.as_list(right)})"
            return Value("many", sql, type_name=left.type_name if left.type_name == right.type_name else None)
        op = "=" if node.name == "=" else "<>"
        for a, b in ((left, right), (right, left)):
            if b.shape == "scalar" and b.sql_type in ("BOOLEAN", "BIGINT", "DOUBLE"):
                cast = "BOOLEAN" if b.sql_type == "BOOLEAN" else "DOUBLE"
                a_sql = a.sql if a.shape == "scalar" and a.sql_type == b.sql_type else \
                    f"TRY_CAST({self.as_text(a)} AS {cast})"
                return Value("scalar", f"({a_sql} {op} {b.sql})", sql_type="BOOLEAN")
        return Value("scalar", f"({self.as_text(left)} {op} {self.as_text(right)})", sql_type="BOOLEAN")

    def call(self, node: Node, this: Value) -> Value:
        assert node.base is not None
        name, args = node.name, node.args
        if name == "extension":  # extension(url) = extension.where(url = …)
            self.arity(node, 1)
            rewritten = Node("call", "where", Node("step", "extension", node.base),
                             (Node("binary", "=", args=(Node("step", "url", Node("this")), args[0])),))
            return self.node(rewritten, this)
        if name == "exists" and args:
            return self.node(Node("call", "exists", Node("call", "where", node.base, args)), this)
        if name == "ofType":
            self.arity(node, 1)
            return self.of_type(self.node(node.base, this), args[0])
        if name == "getReferenceKey":
            if len(args) > 1 or (args and args[0].kind != "step"):
                raise self.fail("getReferenceKey() argument")
            return self.reference_key(self.node(node.base, this), args[0].name if args else None)
        if name == "first" and not args and node.base.kind == "binary" and node.base.name == "|":
            # (a | b | …).first(): the first of a, else the first of b, … (no list is built; the union's lists
            # never hold SQL NULLs, so this is the first item of the concatenation)
            branches = [self.node(Node("call", "first", branch), this) for branch in _union_branches(node.base)]
            types = {branch.type_name for branch in branches}
            return Value("one", f"coalesce({', '.join(self.as_one(branch) for branch in branches)})",
                         type_name=types.pop() if len(types) == 1 else None)
        base = self.node(node.base, this)
        if name == "where":
            self.arity(node, 1)
            if base.shape in ("one", "scalar") or (base.shape == "path" and not base.many):
                one = self.as_one(base)
                criterion = self.as_bool(self.node(args[0], Value("one", one, type_name=base.type_name)))
                return Value("one", f"CASE WHEN {criterion} THEN {one} END", type_name=base.type_name)
            var = self.lambda_var()
            criterion = self.as_bool(self.node(args[0], Value("one", var, type_name=base.type_name)))
            return Value("many", f"list_filter({self.as_list(base)}, lambda {var}: {criterion})",
                         type_name=base.type_name)
        self.arity(node, 1 if name in ("contains", "startsWith") else (0, 1) if name == "join" else 0)
        if name == "exists" or name == "empty":
            self.settle(base)
            if base.shape == "scalar":
                sql = f"({base.sql} IS NOT NULL)"
            elif base.shape == "one" or (base.shape == "path" and not base.many):
                sql = f"({self.as_one(base)} IS NOT NULL)"
            else:
                sql = f"(len({self.as_list(base)}) > 0)"
            return Value("scalar", sql if name == "exists" else f"(NOT {sql})", sql_type="BOOLEAN")
        if name == "first":
            if base.shape == "scalar":
                return base
            if base.shape == "path" and base.path.endswith("[*]") and base.path.count("[*]") == 1:
                # the first item of an array is its [0]: the path goes on (and is read in the row's one parse)
                return Value("path", base=base.base, path=base.path[:-3] + "[0]", type_name=base.type_name)
            return Value("one", self.as_one(base), type_name=base.type_name)
        if name == "count":
            return Value("scalar", f"CAST(len({self.as_list(base)}) AS BIGINT)", sql_type="BIGINT")
        if name == "join":
            separator = self.as_text(self.node(args[0], this)) if args else "''"
            return Value("scalar", f"array_to_string({self.as_texts(base)}, {separator})")
        if name == "not":
            return Value("scalar", f"(NOT {self.as_bool(base)})", sql_type="BOOLEAN")
        if name in ("lower", "upper"):
            return Value("scalar", f"{name}({self.as_text(base)})")
        if name in ("contains", "startsWith"):
            function = "contains" if name == "contains" else "starts_with"
            return Value("scalar", f"{function}({self.as_text(base)}, {self.as_text(self.node(args[0], this))})",
                         sql_type="BOOLEAN")
        if name == "getResourceKey":
            if base.shape == "path" and base.base == self.root and base.path == "$" and self.row_key_sql:
                return Value("scalar", self.row_key_sql)
            one = self.as_one(base)
            return Value("scalar", f"(json_extract_string({one}, '$.resourceType') || '/' || "
                                   f"json_extract_string({one}, '$.id'))")
        raise self.fail(f"function {name}()")

    def arity(self, node: Node, allowed: int | tuple[int, ...]) -> None:
        counts = (allowed,) if isinstance(allowed, int) else allowed
        if len(node.args) not in counts:
            raise self.fail(f"{node.name}() with {len(node.args)} arguments")

    def of_type(self, base: Value, type_node: Node) -> Value:
        if type_node.kind != "step" or type_node.base is None or type_node.base.kind != "this":
            raise self.fail("ofType() argument")
        type_name = type_node.name.removeprefix("FHIR.")
        if base.choice is not None:
            name = base.choice + type_name[:1].upper() + type_name[1:]
            return self.step(replace(base, choice=None), name)
        if is_resource_type(type_name):
            var = self.lambda_var()
            wanted = self.param(type_name)
            return Value("many", f"list_filter({self.as_list(base)}, lambda {var}: "
                                 f"json_extract_string({var}, '$.resourceType') = {wanted})", type_name=type_name)
        if base.type_name is None or base.type_name == type_name:
            return replace(base, type_name=type_name)
        return Value("many", "CAST([] AS JSON[])", type_name=type_name)

    def reference_key(self, base: Value, type_name: str | None) -> Value:
        key = f"fhir_ref_key({self.as_text(self.step(base, 'reference'))})"
        if type_name is None:
            return Value("scalar", key)
        if not RESOURCE_TYPE.fullmatch(type_name):
            raise self.fail(f"resource type {type_name!r}")
        prefix = self.param(type_name + "/")
        return Value("scalar", f"(CASE WHEN starts_with({key}, {prefix}) OR starts_with({key}, 'urn:') "
                               f"THEN {key} END)")

    # --- output
    def column_sql(self, v: Value, column_type: str | None, collection: bool) -> tuple[str, str]:
        """SQL of a view column and its SQL type (the first item unless `collection`)."""
        self.settle(v)
        if column_type is not None and column_type not in COLUMN_TYPES:
            raise UnsupportedFhirPath(f"unsupported column type {column_type!r} for {self._expression!r}")
        inferred = column_type or (v.type_name if v.type_name in COLUMN_TYPES else None)
        sql_type = COLUMN_TYPES[inferred] if inferred else (v.sql_type if v.shape == "scalar" else "VARCHAR")
        if collection:
            return f"TRY_CAST({self.as_texts(v)} AS {sql_type}[])", f"{sql_type}[]"
        if v.shape == "scalar" and v.sql_type == sql_type:
            return v.sql, sql_type
        if sql_type == "VARCHAR":
            return self.as_text(v), sql_type
        if v.shape == "scalar":
            return f"TRY_CAST({v.sql} AS {sql_type})", sql_type
        return f"TRY_CAST({self.as_text(v)} AS {sql_type})", sql_type
