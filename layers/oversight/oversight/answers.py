"""Answer forms: a request's `response_schema` and the approve's `response`.

A requester may attach a JSON Schema to a request (check_schema, at creation);
an approve must then carry a `response` valid against it (check_answer). The
dialect is JSON Schema draft-07, checked against its metaschema.

Both inputs are untrusted: the schema comes from a requester, the answer from
an operator. So they are read by the small interpreter below, not by a
library, and what it refuses is refused at creation, naming the schema path:

- nothing is generated from a schema and run: no exec, eval or compile of
  text taken from it (code-generating validators exec() source built from the
  schema's names and values);
- nothing leaves the process: `$ref` is local only (`#` or `#/json/pointer`,
  to a subschema of the same document); no `format` check resolves anything;
- no regular expression a user wrote is ever run: `pattern`,
  `patternProperties` and `format: regex` are refused. Python's backtracking
  `re` takes quadratic time on `a*b` (0.15 s on the 16 KiB an answer may be)
  and cubic on `\\d+\\d+x` (1.3 s on 1 KiB): no length or nesting rule makes
  a user's pattern safe to run;
- the work of one check is bounded: at most MAX_STEPS subschema applications
  (1.7 KiB of `anyOf` nested through `$ref` asks for 3^15, 14 million) and
  MAX_DEPTH nested ones (the stack); `enum`, `const` and `uniqueItems`
  compare hashed canonical forms, never each value with every other;
- nothing is silently ignored: an unknown keyword (a misspelt `maxLenght`
  would check nothing), a 2019-09/2020-12 keyword draft-07 does not know
  (`prefixItems`, `unevaluatedProperties`, ...), an assertion beside `$ref`
  (draft-07 ignores it) and a `format` not checked here are refused.
  Extensions named `x-...` are allowed and ignored.

Compiled schemas are kept per warm container, keyed by the schema's canonical
JSON (cached_schema, an LRU of SCHEMA_CACHE_SIZE entries). docs/decisions.md
gives the reasons and the measurements against fastjsonschema and jsonschema.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from oversight.errors import ValidationFailed

MAX_SCHEMA_BYTES = 8 * 1024
DRAFT_07 = "http://json-schema.org/draft-07/schema#"
# Subschema applications per check. A 16 KiB answer holds at most ~8,000 values;
# a form's schema applies a few subschemas to each. 100,000 steps take ~0.2 s.
MAX_STEPS = 100_000
# Subschema applications nested in one another: at most 3 Python frames each,
# 600 of the interpreter's 1,000, the rest left to the caller. A body nests at
# most 64 levels; a recursive form schema takes 2 applications a level.
MAX_DEPTH = 200
# Chains of `$ref`/allOf/anyOf/oneOf/not/if applied to one value, at creation.
MAX_IN_PLACE_CHAIN = 32
# JSON nesting of the schema itself, as the request body's limit (json_body.MAX_DEPTH).
MAX_SCHEMA_NESTING = 64
SCHEMA_CACHE_SIZE = 128
# Enough to name the fields of a form; a list of 8,000 bad items need not be listed in full.
MAX_REPORTED = 20

# The draft-07 metaschema (http://json-schema.org/draft-07/schema), verbatim
# but for `$defs`, read as `definitions` is: later drafts' name for it, which
# generated schemas use and `#/$defs/...` pointers reach. Kept as the JSON text
# it is published as, parsed on first use (0.02 ms; as a dict literal it would
# cost 0.6 ms of compiling at every cold start: the layer ships sources).
METASCHEMA_JSON = r"""{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "$id": "http://json-schema.org/draft-07/schema#",
  "title": "Core schema meta-schema",
  "definitions": {
    "schemaArray": {"type": "array", "minItems": 1, "items": {"$ref": "#"}},
    "nonNegativeInteger": {"type": "integer", "minimum": 0},
    "nonNegativeIntegerDefault0": {"allOf": [{"$ref": "#/definitions/nonNegativeInteger"}, {"default": 0}]},
    "simpleTypes": {"enum": ["array", "boolean", "integer", "null", "number", "object", "string"]},
    "stringArray": {"type": "array", "items": {"type": "string"}, "uniqueItems": true, "default": []}
  },
  "type": ["object", "boolean"],
  "properties": {
    "$id": {"type": "string", "format": "uri-reference"},
    "$schema": {"type": "string", "format": "uri"},
    "$ref": {"type": "string", "format": "uri-reference"},
    "$comment": {"type": "string"},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "default": true,
    "readOnly": {"type": "boolean", "default": false},
    "examples": {"type": "array", "items": true},
    "multipleOf": {"type": "number", "exclusiveMinimum": 0},
    "maximum": {"type": "number"},
    "exclusiveMaximum": {"type": "number"},
    "minimum": {"type": "number"},
    "exclusiveMinimum": {"type": "number"},
    "maxLength": {"$ref": "#/definitions/nonNegativeInteger"},
    "minLength": {"$ref": "#/definitions/nonNegativeIntegerDefault0"},
    "pattern": {"type": "string", "format": "regex"},
    "additionalItems": {"$ref": "#"},
    "items": {"anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/schemaArray"}], "default": true},
    "maxItems": {"$ref": "#/definitions/nonNegativeInteger"},
    "minItems": {"$ref": "#/definitions/nonNegativeIntegerDefault0"},
    "uniqueItems": {"type": "boolean", "default": false},
    "contains": {"$ref": "#"},
    "maxProperties": {"$ref": "#/definitions/nonNegativeInteger"},
    "minProperties": {"$ref": "#/definitions/nonNegativeIntegerDefault0"},
    "required": {"$ref": "#/definitions/stringArray"},
    "additionalProperties": {"$ref": "#"},
    "definitions": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
    "$defs": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
    "properties": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
    "patternProperties": {
      "type": "object", "additionalProperties": {"$ref": "#"}, "propertyNames": {"format": "regex"}, "default": {}
    },
    "dependencies": {
      "type": "object", "additionalProperties": {"anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/stringArray"}]}
    },
    "propertyNames": {"$ref": "#"},
    "const": true,
    "enum": {"type": "array", "items": true},
    "type": {
      "anyOf": [
        {"$ref": "#/definitions/simpleTypes"},
        {"type": "array", "items": {"$ref": "#/definitions/simpleTypes"}, "minItems": 1, "uniqueItems": true}
      ]
    },
    "format": {"type": "string"},
    "contentMediaType": {"type": "string"},
    "contentEncoding": {"type": "string"},
    "if": {"$ref": "#"},
    "then": {"$ref": "#"},
    "else": {"$ref": "#"},
    "allOf": {"$ref": "#/definitions/schemaArray"},
    "anyOf": {"$ref": "#/definitions/schemaArray"},
    "oneOf": {"$ref": "#/definitions/schemaArray"},
    "not": {"$ref": "#"}
  },
  "default": true
}"""

# Keywords that only annotate: they may stand beside `$ref`.
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "definitions", "$defs"}
    | {"title", "description", "default", "examples", "readOnly", "writeOnly", "deprecated"}
    | {"contentMediaType", "contentEncoding"}  # annotations in draft-07's own words too (no decoding is asserted)
)
_KEYWORDS = _ANNOTATIONS | frozenset(
    {"$ref", "type", "enum", "const", "format"}
    | {"multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"}
    | {"maxLength", "minLength", "maxItems", "minItems", "uniqueItems", "items", "additionalItems", "contains"}
    | {"maxProperties", "minProperties", "required", "dependencies", "properties", "additionalProperties"}
    | {"propertyNames", "allOf", "anyOf", "oneOf", "not", "if", "then", "else"}
)
REGEX_REFUSED = (
    "regular expressions are refused: Python's backtracking matcher can take seconds to minutes on a crafted"
    " pattern; use enum, const, minLength/maxLength or a format"
)
_LATER_DRAFTS = frozenset(
    {"prefixItems", "dependentRequired", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems"}
    | {"minContains", "maxContains", "$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor"}
    | {"$vocabulary"}
)
# What each applicator holds: one subschema, a list of them, or a map of names to them.
_ONE = ("additionalItems", "additionalProperties", "contains", "propertyNames", "not", "if", "then", "else")
_LIST = ("allOf", "anyOf", "oneOf")
_MAP = ("properties", "definitions", "$defs")
# Applied to the same value (not to a member or item of it): a chain of these never ends on its own.
_IN_PLACE_ONE = ("not", "if", "then", "else")

Tokens = tuple[str, ...]  # a JSON pointer, parsed
Path = tuple[str | int, ...]  # where in the answer


class _Error(NamedTuple):
    path: Path
    msg: str
    # The JSON types that would have fitted, when the value has none of them (a
    # `type` mismatch, or an `enum`/`const` of other types): anyOf and oneOf
    # report the branch whose types the value has.
    types: frozenset[str] | None = None


class _TooCostly(Exception):
    """The check ran out of its step or depth budget."""


class _Run:
    """The budget of one check."""

    __slots__ = ("depth", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.depth = 0


Check = Callable[[Any, Path, _Run, list[_Error]], None]


class _Node:
    """One compiled subschema: the checks its keywords make."""

    __slots__ = ("checks",)

    def __init__(self) -> None:
        self.checks: list[Check] = []

    def validate(self, value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        run.steps += 1
        run.depth += 1
        if run.steps > MAX_STEPS:
            raise _TooCostly(f"the request's response_schema takes over {MAX_STEPS:,} steps on this answer")
        if run.depth > MAX_DEPTH:
            raise _TooCostly(f"the request's response_schema nests over {MAX_DEPTH} levels deep on this answer")
        try:
            for check in self.checks:
                check(value, path, run, out)
        finally:
            run.depth -= 1

    def errors(self, value: Any, path: Path, run: _Run) -> list[_Error]:
        out: list[_Error] = []
        self.validate(value, path, run, out)
        return out


class CompiledSchema:
    """A schema ready to check answers with (see cached_schema)."""

    __slots__ = ("_root",)

    def __init__(self, root: _Node) -> None:
        self._root = root

    def check(self, response: Any) -> None:
        """Raise ValidationFailed naming each failing path of `response`
        (`["body", "response", *path]`), at most MAX_REPORTED of them."""
        try:
            errors = self._root.errors(response, (), _Run())
        except _TooCostly as exc:
            raise ValidationFailed(
                "Invalid request: body.response",
                [{"loc": ["body", "response"], "msg": f"Not checked: {exc}", "type": "response_schema"}],
            ) from None
        if not errors:
            return
        details: list[dict[str, Any]] = []
        seen: set[tuple[Path, str]] = set()
        for error in errors:
            if (error.path, error.msg) not in seen and len(details) < MAX_REPORTED:
                seen.add((error.path, error.msg))
                details.append({"loc": ["body", "response", *error.path], "msg": error.msg, "type": "response_schema"})
        fields = sorted({".".join(str(part) for part in d["loc"]) for d in details})
        raise ValidationFailed(f"Invalid request: {', '.join(fields)}", details)


# ---------------------------------------------------------------- the API
def check_schema(schema: dict[str, Any]) -> None:
    """Raise ValueError (its message names the schema path, e.g.
    "response_schema.properties.amount.type: 'nubmer' should be one of 'array',
    'boolean', ...") unless `schema` is a JSON Schema we accept: an object, at
    most MAX_SCHEMA_BYTES as compact JSON, valid against the draft-07
    metaschema, and free of what the module's docstring lists as refused."""
    if not isinstance(schema, dict):
        raise ValueError(f"response_schema: should be a JSON object (a schema), not {_type_name(schema)}")
    _check_nesting(schema)
    try:
        size = len(json.dumps(schema, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"response_schema: not JSON ({exc})") from None
    if size > MAX_SCHEMA_BYTES:
        raise ValueError(f"response_schema: {size} bytes as compact JSON; at most {MAX_SCHEMA_BYTES} allowed")
    try:
        errors = _metaschema().errors(schema, (), _Run())
    except _TooCostly as exc:  # a schema of 8 KiB takes a few thousand steps
        raise ValueError(f"response_schema: {exc}") from None
    if errors:
        first = errors[0]
        raise ValueError(f"{_schema_path(first.path)}: {shown(_at(schema, first.path))} {_lower(first.msg)}")
    _check_refusals(schema)


def check_answer(schema: dict[str, Any], response: Any) -> None:
    """Raise oversight.errors.ValidationFailed (422 validation_error) unless
    `response` is valid against `schema`; each detail names a failing path,
    `{"loc": ["body", "response", *path], "msg": ..., "type": "response_schema"}`,
    and the message names them all ("Invalid request: body.response.amount").
    A missing required property is named by its own path."""
    try:
        compiled = cached_schema(canonical_json(schema))
    except (TypeError, ValueError) as exc:  # a schema stored before a rule it breaks: answerable by no one, never a 500
        raise ValidationFailed(
            "Invalid request: body.response",
            [
                {
                    "loc": ["body", "response"],
                    "msg": f"The request's response_schema is not accepted ({exc}): it can only be rejected",
                    "type": "response_schema",
                }
            ],
        ) from None
    compiled.check(response)


def canonical_json(schema: dict[str, Any]) -> str:
    """The schema as compact JSON with sorted keys: equal schemas, equal text."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def compile_schema(schema_json: str) -> CompiledSchema:
    """Check (check_schema) and compile the schema given as JSON text.
    Uncached: cached_schema is the one to call."""
    schema = json.loads(schema_json)
    check_schema(schema)
    return CompiledSchema(_Compiler(schema).build())


# The compiled schemas of this warm container, by canonical JSON: a request's
# approvals (up to ten) and retries compile its schema once.
cached_schema = functools.lru_cache(maxsize=SCHEMA_CACHE_SIZE)(compile_schema)


@functools.cache
def _metaschema() -> _Node:
    # Compiled on first use, not at import: every function imports the models, few check a schema.
    return _Compiler(json.loads(METASCHEMA_JSON)).build()


# ---------------------------------------------------------------- refusals
def _check_nesting(schema: dict[str, Any]) -> None:
    """Iterative: a schema nested deeper than the stack must be refused, not crash."""
    stack: list[tuple[Any, int]] = [(schema, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_SCHEMA_NESTING:
            raise ValueError(f"response_schema: JSON nested more than {MAX_SCHEMA_NESTING} levels deep")
        if isinstance(value, dict):
            if not all(isinstance(key, str) for key in value):
                raise ValueError("response_schema: not JSON (an object's keys are strings)")
            stack.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list):
            stack.extend((child, depth + 1) for child in value)


def _subschemas(schema: dict[str, Any], at: Tokens) -> Iterator[tuple[str, Any, Tokens]]:
    """(keyword, subschema, its pointer) for each subschema `schema` holds."""
    for keyword in _ONE:
        if keyword in schema:
            yield keyword, schema[keyword], (*at, keyword)
    items = schema.get("items")
    if isinstance(items, list):
        for index, item in enumerate(items):
            yield "items", item, (*at, "items", str(index))
    elif items is not None:
        yield "items", items, (*at, "items")
    for keyword in _LIST:
        for index, item in enumerate(schema.get(keyword, ())):
            yield keyword, item, (*at, keyword, str(index))
    for keyword in (*_MAP, "dependencies"):
        for name, item in schema.get(keyword, {}).items():
            if keyword != "dependencies" or not isinstance(item, list):  # a list there names properties
                yield keyword, item, (*at, keyword, name)


def _check_refusals(root: dict[str, Any]) -> None:
    """After the metaschema: what we refuse although draft-07 allows it."""
    positions: dict[Tokens, Any] = {}
    refs: dict[Tokens, Tokens] = {}
    stack: list[tuple[Any, Tokens]] = [(root, ())]
    while stack:
        schema, at = stack.pop()
        positions[at] = schema
        if not isinstance(schema, dict):
            continue  # true or false
        where = _schema_path(at)
        for keyword in schema:
            if keyword in ("pattern", "patternProperties"):
                raise ValueError(f"{where}.{keyword}: {REGEX_REFUSED}")
            if keyword in _LATER_DRAFTS:
                raise ValueError(
                    f"{where}.{keyword}: a keyword of a later draft (2019-09/2020-12); this response_schema is read as"
                    " draft-07, which would ignore it"
                )
            if keyword not in _KEYWORDS and not keyword.startswith("x-"):
                raise ValueError(
                    f"{where}: unknown keyword {shown(keyword)}: it would check nothing (extensions are named x-...)"
                )
        if "$schema" in schema and (at or schema["$schema"].rstrip("#") != DRAFT_07.rstrip("#")):
            raise ValueError(f"{where}.$schema: only {shown(DRAFT_07)}, at the top, is read here")
        if "$id" in schema and at:
            raise ValueError(f"{where}.$id: only the top schema may carry $id (it would move what $ref means)")
        if "format" in schema and schema["format"] not in _FORMATS:
            if schema["format"] == "regex":  # checking it would compile operator-written text as a pattern
                raise ValueError(f"{where}.format: {REGEX_REFUSED}")
            raise ValueError(f"{where}.format: {shown(schema['format'])} is not checked here ({', '.join(_FORMATS)})")
        if "$ref" in schema:
            refs[at] = _local_ref(schema["$ref"], f"{where}.$ref")
            beside = sorted(k for k in schema if k != "$ref" and k not in _ANNOTATIONS and not k.startswith("x-"))
            if beside:
                raise ValueError(
                    f"{where}: {', '.join(beside)} beside $ref would be ignored (draft-07); put both in an allOf"
                )
        stack.extend((child, pointer) for _, child, pointer in _subschemas(schema, at))
    for at, target in refs.items():
        if target not in positions:
            raise ValueError(
                f"{_schema_path(at)}.$ref: {shown(positions[at]['$ref'])} is not a schema of this document"
            )
    _check_in_place_chains(positions, refs)


def _local_ref(ref: str, where: str) -> Tokens:
    """The pointer of a local `$ref`; ValueError for anything else (a URL, a
    file, another document, a plain-name fragment)."""
    if not ref.startswith("#"):
        raise ValueError(f"{where}: {shown(ref)} is not local: only '#' and '#/json/pointer' refs are followed")
    pointer = unquote(ref[1:])
    if pointer and not pointer.startswith("/"):
        raise ValueError(f"{where}: {shown(ref)} is not a JSON pointer ('#/definitions/name')")
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:])


def _check_in_place_chains(positions: dict[Tokens, Any], refs: dict[Tokens, Tokens]) -> None:
    """Refuse a `$ref` loop that never moves into a member or item of the
    value (it would never end), and chains longer than MAX_IN_PLACE_CHAIN."""
    edges: dict[Tokens, list[Tokens]] = {}
    for at, schema in positions.items():
        if not isinstance(schema, dict):
            continue
        following = [refs[at]] if at in refs else []
        following += [pointer for keyword, _, pointer in _subschemas(schema, at) if keyword in _LIST]
        following += [pointer for keyword, _, pointer in _subschemas(schema, at) if keyword in _IN_PLACE_ONE]
        following += [pointer for keyword, _, pointer in _subschemas(schema, at) if keyword == "dependencies"]
        edges[at] = following
    longest: dict[Tokens, int] = {}
    open_: set[Tokens] = set()
    for start in edges:
        if start in longest:
            continue
        # Iterative depth-first walk: (node, index of the next edge to follow).
        stack: list[tuple[Tokens, int]] = [(start, 0)]
        open_.add(start)
        while stack:
            node, index = stack[-1]
            if index < len(edges[node]):
                stack[-1] = (node, index + 1)
                child = edges[node][index]
                if child in open_:
                    raise ValueError(
                        f"{_schema_path(node)}: $ref loops back to {_schema_path(child)} without moving into a member"
                        " or item of the answer: the check would never end"
                    )
                if child not in longest and child in edges:
                    open_.add(child)
                    stack.append((child, 0))
                continue
            stack.pop()
            open_.discard(node)
            longest[node] = 1 + max((longest.get(child, 0) for child in edges[node]), default=0)
            if longest[node] > MAX_IN_PLACE_CHAIN:
                raise ValueError(
                    f"{_schema_path(node)}: a chain of more than {MAX_IN_PLACE_CHAIN} $ref/allOf/anyOf/oneOf/not/if"
                    " applied to one value"
                )


# ---------------------------------------------------------------- the compiler
class _Compiler:
    """Turns a schema (valid against the metaschema, refusals checked) into
    nodes of checks. Every subschema is compiled before the first check runs
    (`$ref`s are wired to their nodes at the end): a compiled schema is never
    seen half-built, whichever thread uses it."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.nodes: dict[Tokens, _Node] = {}
        self.refs: list[tuple[list[_Node], Tokens]] = []

    def build(self) -> _Node:
        node = self.node(self.root, ())
        for cell, target in self.refs:
            cell.append(self.nodes[target])
        return node

    def node(self, schema: Any, at: Tokens) -> _Node:
        node = self.nodes[at] = _Node()
        if schema is False:
            node.checks.append(_nothing(_FALSE_MESSAGES.get(at[-1] if at else "", "No value is allowed here")))
        elif isinstance(schema, dict):
            for _, child, pointer in _subschemas(schema, at):
                self.node(child, pointer)
            node.checks.extend(self.checks(schema, at))
        return node

    def checks(self, schema: dict[str, Any], at: Tokens) -> Iterator[Check]:
        if "$ref" in schema:  # draft-07: $ref alone decides (the refusals allow only annotations beside it)
            yield self.ref(_local_ref(schema["$ref"], "$ref"))
            return
        nodes = self.nodes
        if "type" in schema:
            yield _type(schema["type"])
        if "enum" in schema:
            yield _enum(schema["enum"])
        if "const" in schema:
            yield _const(schema["const"])
        yield from _number_checks(schema)
        yield from _string_checks(schema)
        yield from _array_checks(schema, at, nodes)
        yield from _object_checks(schema, at, nodes)
        for keyword in _LIST:
            if keyword in schema:
                members = [nodes[(*at, keyword, str(i))] for i in range(len(schema[keyword]))]
                yield {"allOf": _all_of, "anyOf": _any_of, "oneOf": _one_of}[keyword](members)
        if "not" in schema:
            yield _not(nodes[(*at, "not")])
        if "if" in schema:
            yield _if(
                nodes[(*at, "if")],
                nodes.get((*at, "then")) if "then" in schema else None,
                nodes.get((*at, "else")) if "else" in schema else None,
            )

    def ref(self, target: Tokens) -> Check:
        cell: list[_Node] = []
        self.refs.append((cell, target))

        def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
            cell[0].validate(value, path, run, out)

        return check


# What a `false` schema says, by where it stands (pydantic's words for an extra field, as the API's other 422s).
_FALSE_MESSAGES = {
    "additionalProperties": "Extra inputs are not permitted",
    "additionalItems": "Extra items are not permitted",
}


def _nothing(msg: str) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        out.append(_Error(path, msg))

    return check


# ---------------------------------------------------------------- keywords
_TYPE_WORDS = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "null": "null",
}
_TYPE_ORDER = list(_TYPE_WORDS)


def _json_type(value: Any) -> str | None:
    """The JSON type of a parsed value; a float with no fraction is an integer (draft-07)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_phrase(types: frozenset[str]) -> str:
    words = [_TYPE_WORDS[t] for t in _TYPE_ORDER if t in types]
    return "Should be " + (words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1])


def _type(type_: str | list[str]) -> Check:
    allowed = frozenset([type_] if isinstance(type_, str) else type_)
    number_ok = "number" in allowed

    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        found = _json_type(value)
        if found not in allowed and not (found == "integer" and number_ok):
            out.append(_Error(path, _type_phrase(allowed), allowed))

    return check


def _key(value: Any) -> Any:
    """A hashable form equal for values JSON calls equal: 1 and 1.0 alike,
    true and 1 not (Python's == mixes those), objects whatever their key order."""
    if isinstance(value, bool) or value is None:
        return (type(value).__name__, value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_key(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((name, _key(item)) for name, item in value.items()))
    return ("other", id(value))


def _kinds(values: list[Any]) -> frozenset[str]:
    """The JSON types among `values`, a number standing for integers too."""
    return frozenset("number" if kind == "integer" else kind for kind in map(_json_type, values) if kind)


def _enum(values: list[Any]) -> Check:
    keys, kinds = frozenset(_key(v) for v in values), _kinds(values)
    msg = f"Should be one of {_listing(values)}"

    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        if _key(value) not in keys:
            # A value of none of the listed values' types fits this branch no better than a type mismatch would.
            kind = _kinds([value])
            out.append(_Error(path, msg, None if kind <= kinds else kinds))

    return check


def _const(expected: Any) -> Check:
    key, kinds, msg = _key(expected), _kinds([expected]), f"Should be {shown(expected)}"

    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        if _key(value) != key:
            out.append(_Error(path, msg, None if _kinds([value]) <= kinds else kinds))

    return check


def _bound(limit: float, holds: Callable[[Any, Any], bool], msg: str) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        if _is_number(value) and not holds(value, limit):
            out.append(_Error(path, msg))

    return check


def _is_multiple(value: int | float, factor: int | float) -> bool:
    if isinstance(value, int) and isinstance(factor, int):
        return value % factor == 0
    # Exactly, in decimal as written: 19.99 is a multiple of 0.01 although 19.99 / 0.01 is 1998.9999999999998 in
    # binary, and 1e308 is no multiple of 0.123456789 although a rounded quotient would look whole. A double
    # written out is at most ~330 digits: the fraction is cheap.
    quotient = Fraction(Decimal(repr(value))) / Fraction(Decimal(repr(factor)))
    return quotient.denominator == 1


def _number_checks(schema: dict[str, Any]) -> Iterator[Check]:
    if "minimum" in schema:
        yield _bound(schema["minimum"], lambda v, m: v >= m, f"Should be greater than or equal to {schema['minimum']}")
    if "exclusiveMinimum" in schema:
        yield _bound(
            schema["exclusiveMinimum"], lambda v, m: v > m, f"Should be greater than {schema['exclusiveMinimum']}"
        )
    if "maximum" in schema:
        yield _bound(schema["maximum"], lambda v, m: v <= m, f"Should be less than or equal to {schema['maximum']}")
    if "exclusiveMaximum" in schema:
        yield _bound(
            schema["exclusiveMaximum"], lambda v, m: v < m, f"Should be less than {schema['exclusiveMaximum']}"
        )
    if "multipleOf" in schema:
        yield _bound(schema["multipleOf"], _is_multiple, f"Should be a multiple of {schema['multipleOf']}")


def _count(kind: type, measure: Callable[[Any], int], limit: int, holds: Callable[[int, int], bool], msg: str) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        if isinstance(value, kind) and not holds(measure(value), limit):
            out.append(_Error(path, msg))

    return check


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _at_least(n: int, m: int) -> bool:
    return n >= m


def _at_most(n: int, m: int) -> bool:
    return n <= m


def _string_checks(schema: dict[str, Any]) -> Iterator[Check]:
    if "minLength" in schema:
        limit = int(schema["minLength"])
        yield _count(str, len, limit, _at_least, f"Should have at least {_plural(limit, 'character')}")
    if "maxLength" in schema:
        limit = int(schema["maxLength"])
        yield _count(str, len, limit, _at_most, f"Should have at most {_plural(limit, 'character')}")
    if "format" in schema and schema["format"] in _FORMATS:  # the metaschema's own formats only annotate
        name, valid = schema["format"], _FORMATS[schema["format"]]
        msg = f"Should be a valid {name} ({FORMAT_NOTES[name]})"

        def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
            if isinstance(value, str) and not valid(value):
                out.append(_Error(path, msg))

        yield check


def _array_checks(schema: dict[str, Any], at: Tokens, nodes: dict[Tokens, _Node]) -> Iterator[Check]:
    if "minItems" in schema:
        limit = int(schema["minItems"])
        yield _count(list, len, limit, _at_least, f"Should have at least {_plural(limit, 'item')}")
    if "maxItems" in schema:
        limit = int(schema["maxItems"])
        yield _count(list, len, limit, _at_most, f"Should have at most {_plural(limit, 'item')}")
    if schema.get("uniqueItems") is True:
        yield _unique
    items = schema.get("items")
    if isinstance(items, list):
        leading = [nodes[(*at, "items", str(i))] for i in range(len(items))]
        rest = nodes.get((*at, "additionalItems")) if "additionalItems" in schema else None
        yield _tuple_items(leading, rest)
    elif items is not None:
        yield _all_items(nodes[(*at, "items")])
    if "contains" in schema:
        yield _contains(nodes[(*at, "contains")])


def _unique(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
    if isinstance(value, list):
        seen: dict[Any, int] = {}
        for index, item in enumerate(value):
            first = seen.setdefault(_key(item), index)
            if first != index:
                out.append(_Error(path, f"Should have unique items (item {index} repeats item {first})"))
                return


def _all_items(node: _Node) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                node.validate(item, (*path, index), run, out)

    return check


def _tuple_items(leading: list[_Node], rest: _Node | None) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                node = leading[index] if index < len(leading) else rest
                if node is None:
                    return
                node.validate(item, (*path, index), run, out)

    return check


def _contains(node: _Node) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        if isinstance(value, list) and not any(not node.errors(item, (*path, i), run) for i, item in enumerate(value)):
            out.append(_Error(path, "Should contain at least one item that matches the 'contains' schema"))

    return check


def _object_checks(schema: dict[str, Any], at: Tokens, nodes: dict[Tokens, _Node]) -> Iterator[Check]:
    if "required" in schema:
        yield _required(list(schema["required"]))
    if "minProperties" in schema:
        limit = int(schema["minProperties"])
        yield _count(dict, len, limit, _at_least, f"Should have at least {_plural(limit, 'property')}")
    if "maxProperties" in schema:
        limit = int(schema["maxProperties"])
        yield _count(dict, len, limit, _at_most, f"Should have at most {_plural(limit, 'property')}")
    properties = {name: nodes[(*at, "properties", name)] for name in schema.get("properties", {})}
    extra = nodes.get((*at, "additionalProperties")) if "additionalProperties" in schema else None
    if properties or extra is not None:
        yield _members(properties, extra)
    for name, dependency in schema.get("dependencies", {}).items():
        yield _depends(name, dependency if isinstance(dependency, list) else nodes[(*at, "dependencies", name)])
    if "propertyNames" in schema:
        yield _property_names(nodes[(*at, "propertyNames")])


def _required(names: list[str]) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        if isinstance(value, dict):
            out.extend(_Error((*path, name), "Field required") for name in names if name not in value)

    return check


def _members(properties: dict[str, _Node], extra: _Node | None) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        if isinstance(value, dict):
            for name, member in value.items():
                node = properties.get(name, extra)
                if node is not None:
                    node.validate(member, (*path, name), run, out)

    return check


def _depends(name: str, dependency: list[str] | _Node) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        if not isinstance(value, dict) or name not in value:
            return
        if isinstance(dependency, list):
            msg = f"Field required when {shown(name)} is given"
            out.extend(_Error((*path, other), msg) for other in dependency if other not in value)
        else:
            dependency.validate(value, path, run, out)

    return check


def _property_names(node: _Node) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        if isinstance(value, dict):
            for name in value:
                out.extend(_Error(e.path, f"Property name: {e.msg}") for e in node.errors(name, (*path, name), run))

    return check


def _all_of(members: list[_Node]) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        for node in members:
            node.validate(value, path, run, out)

    return check


def _closest(path: Path, failures: list[list[_Error]], keyword: str) -> list[_Error]:
    """What to report when no branch matched: the errors of the one branch
    whose type the value has (e.g. `anyOf: [{number, minimum 0}, {null}]`
    given -1 says "greater than or equal to 0"), else one error saying so."""
    relevant = [errors for errors in failures if not all(e.types is not None and e.path == path for e in errors)]
    if len(relevant) == 1:
        return relevant[0]
    if not relevant:
        types = frozenset().union(*(e.types or () for errors in failures for e in errors))
        return [_Error(path, _type_phrase(types), types)]
    how_many = "at least one" if keyword == "anyOf" else "exactly one"
    return [_Error(path, f"Should match {how_many} of the schemas in {keyword}")]


def _any_of(members: list[_Node]) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        failures = []
        for node in members:
            errors = node.errors(value, path, run)
            if not errors:
                return
            failures.append(errors)
        out.extend(_closest(path, failures, "anyOf"))

    return check


def _one_of(members: list[_Node]) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        failures = [node.errors(value, path, run) for node in members]
        matched = sum(1 for errors in failures if not errors)
        if matched == 0:
            out.extend(_closest(path, failures, "oneOf"))
        elif matched > 1:
            out.append(_Error(path, f"Should match exactly one of the schemas in oneOf, not {matched}"))

    return check


def _not(node: _Node) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        if not node.errors(value, path, run):
            out.append(_Error(path, "Should not match the schema under 'not'"))

    return check


def _if(condition: _Node, then: _Node | None, else_: _Node | None) -> Check:
    def check(value: Any, path: Path, run: _Run, out: list[_Error]) -> None:
        branch = then if not condition.errors(value, path, run) else else_
        if branch is not None:
            branch.validate(value, path, run, out)

    return check


# ---------------------------------------------------------------- formats
# Each check bounds the length before any regular expression runs, and each
# expression is ours, anchored, with no ambiguous repetition: linear time.
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))", re.ASCII)
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*")


def _is_date(text: str) -> bool:
    match = _DATE.fullmatch(text) if len(text) == 10 else None
    if match is None:
        return False
    try:
        dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return False
    return True


def _is_time(text: str) -> bool:
    match = _TIME.fullmatch(text) if len(text) <= 40 else None
    if match is None:
        return False
    hour, minute, second, offset_hour, offset_minute = (int(part or 0) for part in match.groups())
    if hour > 23 or minute > 59 or second > 60 or offset_hour > 23 or offset_minute > 59:
        return False
    if second == 60:  # a leap second is inserted at 23:59:60 UTC only
        sign = -1 if "-" in text[8:] else 1
        utc_minutes = (hour * 60 + minute - sign * (offset_hour * 60 + offset_minute)) % 1440
        return utc_minutes == 23 * 60 + 59
    return True


def _is_date_time(text: str) -> bool:
    return len(text) > 11 and text[10] in "Tt" and _is_date(text[:10]) and _is_time(text[11:])


def _is_hostname(text: str) -> bool:
    return 0 < len(text) <= 253 and all(_is_label(label) for label in text.split("."))


def _is_label(label: str) -> bool:
    if _LABEL.fullmatch(label) is None:
        return False
    if label[2:4] != "--":
        return True
    if label[:2].lower() != "xn":  # hyphens in the 3rd and 4th place are reserved for A-labels (RFC 5891)
        return False
    try:
        label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return False
    return True


def _is_email(text: str) -> bool:
    local, at, domain = text.rpartition("@")
    if not at or len(text) > 254 or not 0 < len(local) <= 64:
        return False
    if domain.startswith("[") and domain.endswith("]"):
        return _is_ip(ipaddress.IPv4Address, domain[1:-1]) or (
            domain[1:6].lower() == "ipv6:" and _is_ip(ipaddress.IPv6Address, domain[6:-1])
        )
    return _ATOM.fullmatch(local) is not None and _is_hostname(domain)


def _is_ip(kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address], text: str) -> bool:
    if len(text) > 45 or not text.isascii() or "%" in text:  # no zone id: not part of an address (RFC 4291)
        return False
    try:
        kind(text)
    except ValueError:
        return False
    return True


def _is_uri(text: str) -> bool:
    if len(text) > 8192 or _URI.fullmatch(text) is None:
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- read for its check: a port that is no number raises
    except ValueError:  # an unbalanced IP literal, a port that is no number
        return False
    if "[" in parts.path + parts.query + parts.fragment or "[" in parts.netloc.rpartition("@")[0]:
        return False  # brackets enclose an IP literal host and nothing else
    host = parts.netloc.rpartition("@")[2]
    if host.startswith("["):
        return _is_ip(ipaddress.IPv6Address, host[1 : host.find("]")])
    return True


_FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _is_date_time,
    "date": _is_date,
    "time": _is_time,
    "email": _is_email,
    "hostname": _is_hostname,
    "ipv4": functools.partial(_is_ip, ipaddress.IPv4Address),
    "ipv6": functools.partial(_is_ip, ipaddress.IPv6Address),
    "uri": _is_uri,
}
FORMAT_NOTES = {
    "date-time": "RFC 3339, e.g. 2026-01-31T09:30:00Z",
    "date": "RFC 3339, e.g. 2026-01-31",
    "time": "RFC 3339, e.g. 09:30:00Z",
    "email": "an address such as name@example.com",
    "hostname": "RFC 1123",
    "ipv4": "e.g. 192.0.2.1",
    "ipv6": "e.g. 2001:db8::1",
    "uri": "an absolute URI, RFC 3986",
}


# ---------------------------------------------------------------- messages
def shown(value: Any, limit: int = 60) -> str:
    """A value as the messages show it, cut to `limit` characters: strings quoted as Python
    does ('nubmer'), anything else as JSON."""
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listing(values: list[Any], limit: int = 200) -> str:
    text = ", ".join(shown(v) for v in values)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lower(msg: str) -> str:
    return msg[:1].lower() + msg[1:]


def _schema_path(at: Tokens | Path) -> str:
    return ".".join(["response_schema", *(str(part) for part in at)])


def _at(root: Any, path: Path) -> Any:
    """The value at `path` in `root` (where the metaschema found an error)."""
    for part in path:
        root = root[part]
    return root


def _type_name(value: Any) -> str:
    return _TYPE_WORDS.get(_json_type(value) or "", type(value).__name__)
