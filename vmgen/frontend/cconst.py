"""Folding C integer constant expressions (array sizes, enumerator values, annotation arguments).

pycparser leaves every expression unevaluated.  This folds literals (decimal,
hex, octal, binary, with suffixes; character constants), enumeration
constants, unary, binary, ternary and cast operators, and ``sizeof`` of scalar
types, with C's truncating division.  Values are exact integers: an array
size or version is never large enough for C's wrap-around to matter, and an
expression that would need it is reported instead of guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from pycparser import c_ast

from vmgen.diagnostics import VmgenError
from vmgen.frontend.annotations import location_of

_INT = re.compile(r"^(0[xX][0-9a-fA-F']+|0[bB][01']+|0[0-7']*|[1-9][0-9']*)([uUlLzZ]*)$")
_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "a": 7, "b": 8, "f": 12, "v": 11,
            "\\": 92, "'": 39, '"': 34, "?": 63}


def literal(text: str) -> int | None:
    m = _INT.match(text)
    if m is None:
        return None
    digits = m.group(1).replace("'", "")
    if digits[:2] in ("0x", "0X"):
        return int(digits[2:], 16)
    if digits[:2] in ("0b", "0B"):
        return int(digits[2:], 2)
    if digits.startswith("0") and len(digits) > 1:
        return int(digits[1:], 8)
    return int(digits)


def _char(text: str) -> int | None:
    m = re.match(r"^[LuU]?'(.*)'$", text, re.DOTALL)
    if m is None:
        return None
    body = m.group(1)
    if len(body) == 1:
        return ord(body)
    if body.startswith("\\"):
        rest = body[1:]
        if rest in _ESCAPES:
            return _ESCAPES[rest]
        if rest[:1] == "x":
            return int(rest[1:], 16)
        if rest.isdigit():
            return int(rest, 8)
    return None


class Folder:
    """Evaluates constant expressions against known enumerators and type sizes."""

    def __init__(
        self,
        constants: Mapping[str, int],
        sizeof: Callable[[c_ast.Node], int | None],
        cast: Callable[[c_ast.Node], tuple[int, bool] | None] | None = None,
    ) -> None:
        self.constants = constants
        self.sizeof = sizeof
        self.cast = cast  # a type name -> (bits, signed) of an integer type, else None

    def fold(self, node: c_ast.Node, what: str) -> int:
        """The value of `node`; `what` names it in errors ("array size")."""
        value = self._eval(node, what)
        return value

    def _fail(self, node: c_ast.Node, what: str, why: str) -> VmgenError:
        return VmgenError.at(location_of(node), f"{what} is not an integer constant: {why}")

    def _eval(self, node: c_ast.Node, what: str) -> int:
        if isinstance(node, c_ast.Constant):
            if node.type == "char" or node.value.endswith("'"):
                v = _char(node.value)
            elif node.type in ("float", "double", "long double", "string"):
                raise self._fail(node, what, f"'{node.value}' is not an integer")
            else:
                v = literal(node.value)
            if v is None:
                raise self._fail(node, what, f"cannot read '{node.value}'")
            return v
        if isinstance(node, c_ast.ID):
            if node.name in self.constants:
                return self.constants[node.name]
            raise self._fail(node, what, f"'{node.name}' is not an enumeration constant")
        if isinstance(node, c_ast.UnaryOp):
            if node.op == "sizeof":
                size = self.sizeof(node.expr)
                if size is None:
                    raise self._fail(node, what, "vmgen evaluates sizeof only for scalar types")
                return size
            v = self._eval(node.expr, what)
            if node.op == "-":
                return -v
            if node.op == "+":
                return v
            if node.op == "~":
                return ~v
            if node.op == "!":
                return int(not v)
            raise self._fail(node, what, f"operator '{node.op}'")
        if isinstance(node, c_ast.BinaryOp):
            a = self._eval(node.left, what)
            if node.op == "&&":
                return int(bool(a) and bool(self._eval(node.right, what)))
            if node.op == "||":
                return int(bool(a) or bool(self._eval(node.right, what)))
            b = self._eval(node.right, what)
            return self._binary(node, node.op, a, b, what)
        if isinstance(node, c_ast.TernaryOp):
            c = self._eval(node.cond, what)
            return self._eval(node.iftrue if c else node.iffalse, what)
        if isinstance(node, c_ast.Cast):
            value = self._eval(node.expr, what)
            shape = self.cast(node.to_type) if self.cast is not None else None
            if shape is None:
                return value
            bits, signed = shape  # C's conversion to the integer type
            value &= (1 << bits) - 1
            return value - (1 << bits) if signed and value >> (bits - 1) else value
        if isinstance(node, c_ast.ExprList) and node.exprs:
            return self._eval(node.exprs[-1], what)
        raise self._fail(node, what, f"unsupported expression ({type(node).__name__})")

    def _binary(self, node: c_ast.Node, op: str, a: int, b: int, what: str) -> int:
        if op in ("/", "%"):
            if b == 0:
                raise self._fail(node, what, "division by zero")
            q = abs(a) // abs(b)
            if (a < 0) != (b < 0):
                q = -q
            return q if op == "/" else a - q * b
        if op in ("<<", ">>"):
            if b < 0 or b > 127:
                raise self._fail(node, what, f"shift by {b}")
            return a << b if op == "<<" else a >> b
        ops: dict[str, Callable[[int, int], int]] = {
            "+": lambda x, y: x + y,
            "-": lambda x, y: x - y,
            "*": lambda x, y: x * y,
            "&": lambda x, y: x & y,
            "|": lambda x, y: x | y,
            "^": lambda x, y: x ^ y,
            "<": lambda x, y: int(x < y),
            ">": lambda x, y: int(x > y),
            "<=": lambda x, y: int(x <= y),
            ">=": lambda x, y: int(x >= y),
            "==": lambda x, y: int(x == y),
            "!=": lambda x, y: int(x != y),
        }
        if op not in ops:
            raise self._fail(node, what, f"operator '{op}'")
        return ops[op](a, b)
