"""Slicing a translation unit down to what the annotated structs need.

A device's ``.c`` file with its include tree (glib, QEMU) preprocesses to tens
of thousands of lines, of which the annotated structs depend on a few hundred.
After :func:`vmgen.tu.neutralize` every file-scope declaration ends at a ``;``
at depth 0, so before pycparser runs this:

1. splits the text into top-level declarations (one scan over tokens, string and
   character literals and line markers understood), remembering where each
   starts (file, line, column);
2. indexes what each one *defines*: typedef names, struct/union/enum tags (a
   forward declaration too) and enumerators -- never functions or objects, which
   no struct can need -- and what each one *mentions*;
3. starts from the declarations annotated themselves (``struct [[vmgen::state(..)]]``,
   a typedef's ``[[vmgen::external(..)]]``; field annotations do not count: a struct
   no state reaches is not needed), the target probe, and the structs and types
   the annotations file names;
4. keeps the closure of those over "mentions -> every declaration defining it";
5. emits the kept declarations in their original order, each behind a line
   marker and indented to its original column, so every coordinate is the
   user's own.

Keeping too much is harmless (a field named like a typedef pulls the typedef
in).  Keeping too little cannot go unnoticed: the pipeline parses the whole
text again whenever the sliced one fails to parse or gives any error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r'(?P<marker>^#[^\n]*)|(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<chr>\'(?:[^\'\\\n]|\\.)*\')'
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>\.?[0-9](?:[eEpP][+-]|[A-Za-z0-9_.])*)"
    r"|(?P<nl>\n)|(?P<p>[{}()\[\];,=])|(?P<ws>[ \t\r\f\v]+)|(?P<other>.)",
    re.MULTILINE,
)
_MARKER = re.compile(r'^# (\d+) "((?:[^"\\]|\\.)*)"')
_POINTER_NAME = re.compile(r"\(\s*\*\s*([A-Za-z_]\w*)")
_KEYWORDS = frozenset(
    """
    auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch
    typedef union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex
    _Generic _Imaginary _Noreturn _Static_assert _Thread_local typeof typeof_unqual bool
    true false nullptr alignas alignof constexpr static_assert thread_local
    """.split()
)
_TAGS = frozenset(("struct", "union", "enum"))


@dataclass
class _Decl:
    start: int
    file: str
    line: int
    end: int = 0
    defines: set[str] = field(default_factory=set)
    mentions: set[str] = field(default_factory=set)
    annotated: bool = False


def _declarations(text: str) -> list[_Decl]:
    decls: list[_Decl] = []
    file, line = "<stdin>", 1
    depth = 0
    cur: _Decl | None = None
    tag_kw = ""  # 'struct'/'union'/'enum' just seen
    enum_depth = -1  # the brace depth of the enum body we are in
    pending_enum = typedef = after_eq = False
    last_id = ""  # the last identifier at depth 0: a declarator's name
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
                file, line = mk.group(2), int(mk.group(1)) - 1  # its newline follows
            continue
        if cur is None:
            cur = _Decl(m.start(), file, line)
            typedef, last_id, tag_kw = False, "", ""
        tok = m.group()
        if kind == "id":
            if tok in _TAGS:
                tag_kw, pending_enum = tok, tok == "enum"
                continue
            if tag_kw:
                key = f"tag:{tok}"
                cur.mentions.add(key)
                following = text[m.end():m.end() + 40].lstrip()
                if following.startswith("{") or (following.startswith(";") and depth == 0):
                    cur.defines.add(key)  # a definition or a forward declaration
                tag_kw = ""
                continue
            if tok == "typedef" and depth == 0:
                typedef = True
            if tok not in _KEYWORDS:
                if enum_depth >= 0 and depth == enum_depth + 1 and not after_eq:
                    cur.defines.add(f"id:{tok}")  # an enumerator
                else:
                    cur.mentions.add(f"id:{tok}")
                if depth == 0:
                    last_id = tok
            continue
        tag_kw = ""
        if kind != "p":
            continue
        if tok in "{([":
            if tok == "[" and depth == 0 and text.startswith("[vmgen::", m.end()):
                cur.annotated = True  # on the declaration itself: a state, a type
            if tok == "{" and pending_enum:
                enum_depth = depth
            if tok == "(" and typedef and depth == 0:
                inner = _POINTER_NAME.match(text, m.start())
                if inner is not None:  # typedef int (*fn)(void): the name is inside
                    cur.defines.add(f"id:{inner.group(1)}")
            depth += 1
            pending_enum = False
        elif tok in "})]":
            depth -= 1
            if tok == "}":
                after_eq = False
                if depth == enum_depth:
                    enum_depth = -1
        elif enum_depth >= 0 and depth == enum_depth + 1 and tok in "=,":
            after_eq = tok == "="
        elif tok in ",;" and depth == 0:
            if typedef and last_id:
                cur.defines.add(f"id:{last_id}")
            last_id = ""
            if tok == ";":
                cur.end = m.end()
                decls.append(cur)
                cur = None
                enum_depth, after_eq = -1, False
    return decls


def slice_text(text: str, root_files: Iterable[str], root_names: Iterable[str] = ()) -> str:
    """The declarations of `text` the annotated structs need.

    `root_files`: files whose declarations are all kept (the target probe);
    `root_names`: struct tags and typedef names that are kept with what they need
    (those an annotations file names)."""
    decls = _declarations(text)
    files = set(root_files)
    names = {f"tag:{n}" for n in root_names} | {f"id:{n}" for n in root_names}
    definers: dict[str, list[int]] = {}
    for i, d in enumerate(decls):
        for key in d.defines:
            definers.setdefault(key, []).append(i)
    work = [i for i, d in enumerate(decls)
            if d.annotated or d.file in files or d.defines & names]
    keep: set[int] = set()
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
        column = d.start - (text.rfind("\n", 0, d.start) + 1)
        out.append(f'# {d.line} "{d.file}"\n{" " * column}{text[d.start:d.end]}\n')
    return "".join(out)
