"""Prototype (benchmarks only, not used by vmgen): slice a preprocessed,
neutralized translation unit down to the declarations the annotated structs
depend on, before pycparser sees it.

After :func:`vmgen.tu.neutralize`, every file-scope declaration ends at a ';' at
nesting depth 0 (function bodies became ';', initializers are gone).  So:

1. split the text into top-level declarations (one linear scan: brackets,
   string/char literals, line markers), remembering the file and line where
   each starts;
2. index what each declaration defines -- typedef names, struct/union/enum tags,
   enumerators (never functions or objects: a struct cannot need them) -- and
   which names it mentions (``struct X`` mentions the tag X, any other
   identifier an ordinary name);
3. roots: declarations holding a ``[[vmgen::`` attribute, and everything from
   vmgen's probe header (the target's integer widths);
4. keep the closure of the roots over "mentions -> every declaration defining
   that name" (a tag's forward declarations and its definition alike);
5. emit the kept declarations in their original order, each behind a line
   marker for its first line, so every coordinate stays the user's own.

Over-approximation is harmless (a field named like a typedef pulls the typedef
in); leaving out something needed shows up as a parse error or a wrong module,
which `check()` compares against the full parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r'(?P<marker>^#[^\n]*)|(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<chr>\'(?:[^\'\\\n]|\\.)*\')'
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>\.?[0-9](?:[eEpP][+-]|[A-Za-z0-9_.])*)"
    r"|(?P<nl>\n)|(?P<p>[{}()\[\];,=])|(?P<ws>[ \t\r\f\v]+)|(?P<other>.)",
    re.MULTILINE,
)
_MARKER = re.compile(r'^# (\d+) "((?:[^"\\]|\\.)*)"')
_KEYWORD_TEXT = """
    auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef
    union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic
    _Imaginary _Noreturn _Static_assert _Thread_local typeof typeof_unqual bool true false
    nullptr alignas alignof constexpr static_assert thread_local
"""
_KEYWORDS = frozenset(_KEYWORD_TEXT.split())
_TAGS = frozenset(("struct", "union", "enum"))


@dataclass
class Decl:
    start: int
    end: int
    file: str
    line: int
    defines: set[str] = field(default_factory=set)
    mentions: set[str] = field(default_factory=set)
    annotated: bool = False


def declarations(text: str) -> list[Decl]:
    decls: list[Decl] = []
    file, line = "<stdin>", 1
    depth = 0
    cur: Decl | None = None
    prev_kw = ""  # 'struct'/'union'/'enum' just seen
    enum_depth = -1  # the brace depth of the enum body we are in, if any
    pending_enum = False
    typedef = False
    last_id_d0 = ""  # the last identifier at depth 0 (a declarator's name)
    after_eq = False  # inside an enumerator's value
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "nl":
            line += 1
            continue
        if kind == "ws":
            continue
        if kind == "marker":
            mk = _MARKER.match(m.group())
            if mk is not None:
                file, line = mk.group(2), int(mk.group(1)) - 1  # the newline follows
            continue
        if cur is None:
            cur = Decl(m.start(), m.start(), file, line)
            typedef, last_id_d0, prev_kw = False, "", ""
        tok = m.group()
        if kind == "id":
            if tok in _TAGS:
                prev_kw = tok
                pending_enum = tok == "enum"
                continue
            if prev_kw:
                key = f"tag:{tok}"
                cur.mentions.add(key)
                # `struct X {` defines X; `struct X;` alone declares it: both count.
                nxt = text[m.end():m.end() + 40].lstrip()
                if nxt.startswith("{") or (nxt.startswith(";") and depth == 0):
                    cur.defines.add(key)
                prev_kw = ""
                continue
            if tok == "typedef" and depth == 0:
                typedef = True
            if tok not in _KEYWORDS:
                if enum_depth >= 0 and depth == enum_depth + 1 and not after_eq:
                    cur.defines.add(f"id:{tok}")  # an enumerator
                else:
                    cur.mentions.add(f"id:{tok}")
                if depth == 0:
                    last_id_d0 = tok
            continue
        prev_kw = ""
        if kind == "p":
            if tok in "{([":
                if tok == "{" and pending_enum:
                    enum_depth = depth
                if tok == "(" and typedef and depth == 0:
                    # `typedef int (*fn)(void)`: the name is inside the first parens.
                    inner = re.match(r"\(\s*\*\s*([A-Za-z_]\w*)", text[m.start():m.start() + 80])
                    if inner is not None:
                        cur.defines.add(f"id:{inner.group(1)}")
                depth += 1
                pending_enum = False
            elif tok in "})]":
                depth -= 1
                if tok == "}" and depth == enum_depth:
                    enum_depth = -1
            elif tok == "=" and enum_depth >= 0 and depth == enum_depth + 1:
                after_eq = True
            elif tok == "," and enum_depth >= 0 and depth == enum_depth + 1:
                after_eq = False
            elif tok in ",;" and depth == 0:
                if typedef and last_id_d0:
                    cur.defines.add(f"id:{last_id_d0}")
                last_id_d0 = ""
                if tok == ";":
                    cur.end = m.end()
                    cur.annotated = "[[vmgen::" in text[cur.start:cur.end]
                    decls.append(cur)
                    cur = None
                    enum_depth, after_eq = -1, False
            if tok == "}":
                after_eq = False
    return decls


def slice_text(text: str, probe: str) -> tuple[str, int, int]:
    """The sliced text, the number of declarations kept, and the total."""
    decls = declarations(text)
    definers: dict[str, list[int]] = {}
    for i, d in enumerate(decls):
        for key in d.defines:
            definers.setdefault(key, []).append(i)
    keep: set[int] = set()
    work = [i for i, d in enumerate(decls) if d.annotated or d.file == probe]
    while work:
        i = work.pop()
        if i in keep:
            continue
        keep.add(i)
        for key in decls[i].mentions:
            work.extend(j for j in definers.get(key, ()) if j not in keep)
    out = []
    for i in sorted(keep):
        d = decls[i]
        out.append(f'# {d.line} "{d.file}"\n{text[d.start:d.end]}\n')
    return "".join(out), len(keep), len(decls)
