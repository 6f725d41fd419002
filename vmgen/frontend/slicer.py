"""Slicing a translation unit down to what the annotated structs need.

A device's ``.c`` file with its include tree (glib, QEMU) preprocesses to tens
of thousands of lines, of which the annotated structs depend on a few hundred.
After :func:`vmgen.frontend.neutralize.neutralize` every file-scope declaration ends at a ``;``
at depth 0, so before pycparser runs this:

1. splits the text into top-level declarations (string and character literals
   and line markers understood), remembering where each starts (file, line,
   column);
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

How it stays fast (the text is tens of thousands of lines; Python is slow per
token, the regular expression engine is not):

* the split (step 1) takes most declarations in one match each (words, bracket
  groups with no bracket or literal inside, struct bodies made of such groups);
  the others, bracket by bracket;
* what a declaration defines is read only when it can define anything (it spells
  ``typedef``, ``struct``, ``union`` or ``enum``): by one match for the commonest
  forms (``typedef struct T T;``, ``struct T { ... };``, ``typedef enum { ... }
  E;``), else by a token-by-token scan that steps over every bracket group in
  which no token can change what the declaration defines;
* what a declaration mentions is read only for the declarations kept, by one
  ``findall`` unless it may hold an enum body (whose enumerators are defined, not
  mentioned: those take the token scan).

Every token is the one a plain tokenizer of the whole text would see (identifiers,
numbers, literals and line markers are matched by the same expressions, in the
same order of preference), so the result does not depend on these shortcuts.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from functools import cache

# Texts this long take the shortcuts (below, "one match"); a shorter one is quick
# enough token by token, and does not pay for compiling their expressions (some
# milliseconds: a large part of a small header's run).
FAST_TEXT = 1 << 16

# Tokens (white space and newlines are skipped).
_TOKEN = re.compile(
    r'(?P<marker>^#[^\n]*)|(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<chr>\'(?:[^\'\\\n]|\\.)*\')'
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<num>\.?[0-9](?:[eEpP][+-]|[A-Za-z0-9_.])*)"
    r"|(?P<p>[{}()\[\];,=])|(?P<other>[^ \t\r\f\v\n])",
    re.MULTILINE,
)
_MARKER = re.compile(r'# (\d+) "([^"\\\n]*(?:\\.[^"\\\n]*)*)"')
_MARKER_AFTER_NEWLINE = re.compile(r'\n# (\d+) "([^"\\\n]*(?:\\.[^"\\\n]*)*)"')
# White space and directive lines before a declaration's first token.
_GAP = re.compile(r"(?:[ \t\r\f\v\n]+|^#[^\n]*)*", re.MULTILINE)

# Step 1: literals, line markers, brackets and ';'.  A group holding no bracket or
# literal (line markers are fine) is one match, and so is a brace body holding
# only such groups and `[[...(...)...]]` attributes (no nested body): at depth 0
# or more, neither holds a declaration's end or a bracket at depth 0.  (A line
# marker inside runs to its line's end: `(?![^\n])` keeps backtracking from
# cutting one short and reading the rest of its line as code.)
_FLAT = r"""[^{}()\[\]"'#]*(?:^#[^\n]*(?![^\n])[^{}()\[\]"'#]*)*"""
_FLAT_GROUP = rf"\[{_FLAT}\]|\({_FLAT}\)"
_ATTRIBUTE = rf"\[\[{_FLAT}(?:\({_FLAT}\){_FLAT})*\]\]"
_BODY = rf"\{{{_FLAT}(?:(?:{_ATTRIBUTE}|{_FLAT_GROUP}){_FLAT})*\}}"
_SPLIT = (
    rf"""^#[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|\({_FLAT}\)|{_BODY}"""
    r"|[{}()\[\];]"
)
_SPLIT_TOKENS = re.compile(
    r"""^#[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|[{}()\[\];]""", re.MULTILINE
)
# One whole group of the forms above (where it closes, for a group the split took
# in one match).
_GROUP = rf"{_FLAT_GROUP}|{_BODY}"
# Most declarations in one match: up to the first ';', through such groups,
# literals and line markers (no `[[` at depth 0: an annotated declaration is
# never taken this way).  Each part starts with a character the runs between
# parts cannot hold, so a declaration of another form fails fast.
_PLAIN = r"""[^{}()\[\];"'#]*"""
_DECLARATION = (
    rf"""{_PLAIN}(?:(?:^#[^\n]*(?![^\n])|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
    rf"|({_FLAT_GROUP})|({_BODY})){_PLAIN})*;"
)

# What a declaration mentions, when it holds no enum body: the tag names (group
# 1) and the other identifiers (group 2; keywords are dropped afterwards).  A tag
# name follows its keyword with nothing but white space and line markers between,
# and is no tag keyword itself.
_TAG_KEYWORD = r"(?:struct|union|enum)(?![A-Za-z0-9_])"
_SKIPPED = r"""^#[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""
_TAG_NAME = rf"(?!{_TAG_KEYWORD})[A-Za-z_][A-Za-z0-9_]*"
_TAG_GAP = r"(?:[ \t\r\f\v\n]|^#[^\n]*(?![^\n]))*"
_NUMBER = r"\.?[0-9](?:[eEpP][+-]|[A-Za-z0-9_.])*"
_MENTIONED = re.compile(
    rf"{_SKIPPED}|{_TAG_KEYWORD}(?:{_TAG_GAP}({_TAG_NAME}))?|([A-Za-z_][A-Za-z0-9_]*)|{_NUMBER}",
    re.MULTILINE,
)

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
# A tag keyword followed by attributes (`struct [[vmgen::state(1, 1)]] S`): the
# tag name comes after them, which only the token scan follows.
_TAG_ATTRIBUTES = re.compile(rf"{_TAG_KEYWORD}{_TAG_GAP}\[\[", re.MULTILINE)
_NOT_MENTIONED = _KEYWORDS | {""}
_TAGS = frozenset(("struct", "union", "enum"))
# A declaration that spells none of these defines nothing.
_DEFINING = re.compile("typedef|struct|union|enum")


class _Index:
    """The file-scope declarations of a text: declaration i is text[begin(i):ends[i]]
    (its first token is the first after white space and line markers), with what
    it defines and whether it is annotated itself."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ends: list[int] = []  # after each declaration's ';'
        self.annotated: list[int] = []  # the declarations annotated themselves
        self.closers: dict[int, int] = {}  # bracket groups: opening -> closing index
        self.fast = len(text) >= FAST_TEXT  # take the shortcuts
        self.group = _one_match(_GROUP) if self.fast else None
        self.markers = _markers(text)
        self._split()
        self.defines: dict[int, set[str]] = {}  # the declarations that define anything
        self.enum_before: set[int] = set()  # an `enum` before them waits for its '{'
        pending_enum = False
        after = 0
        search = _DEFINING.search
        for i, end in enumerate(self.ends):
            if pending_enum or search(text, after, end) is not None:
                defines: set[str] = set()
                if pending_enum:
                    self.enum_before.add(i)
                begin = self.begin(i)
                common = _common(text, begin, end, defines) if self.fast else None
                if common is None:
                    pending_enum = _scan(text, begin, end, pending_enum, self.closers,
                                         defines, None, self.group)
                else:
                    pending_enum = common
                if defines:
                    self.defines[i] = defines
            after = end

    def _split(self) -> None:
        text, ends = self.text, self.ends
        pos, n = 0, len(text)
        whole = _one_match(_DECLARATION).match if self.fast else None
        while pos < n:
            m = None if whole is None else whole(text, pos)
            if m is None:
                pos = self._tokens(pos)
            else:
                pos = m.end()
                ends.append(pos)
                # Where its last group and its last body close (most declarations
                # have one of each at most); `_scan` matches any other again.
                if m.lastindex is not None:
                    for g in (1, 2):
                        start, end = m.span(g)
                        if start >= 0:
                            self.closers[start] = end - 1

    def _tokens(self, pos: int) -> int:
        """Split the declaration from `pos` token by token; return where it ends
        (after its ';' at depth 0; the text's end if none)."""
        text, closers = self.text, self.closers
        opened: list[int] = []
        depth = 0
        annotated = False
        split = _one_match(_SPLIT) if self.fast else _SPLIT_TOKENS
        sources = [split.finditer(text, pos)]
        while sources:
            for m in sources[-1]:
                start, pos = m.span()
                c = text[start]
                if pos - start > 1:
                    if c in "({":  # a whole group
                        if depth >= 0:
                            closers[start] = pos - 1
                            continue
                        # After unbalanced closers, a ';' inside may be at depth 0:
                        # go through the group's tokens (then on after it).
                        sources.append(_SPLIT_TOKENS.finditer(text, start, pos))
                        break
                    continue  # a literal or a directive line
                if c in "{([":
                    if c == "[" and depth == 0 and text.startswith("[vmgen::", pos):
                        annotated = True  # on the declaration itself: a state, a type
                    opened.append(start)
                    depth += 1
                elif c in "})]":
                    depth -= 1
                    if opened:
                        closers[opened.pop()] = start
                elif c == ";" and depth == 0:
                    if annotated:
                        self.annotated.append(len(self.ends))
                    self.ends.append(pos)
                    return pos
            else:
                sources.pop()
        return len(text)

    def after(self, i: int) -> int:
        """Where the text before declaration i ends (the previous one's ';')."""
        return self.ends[i - 1] if i > 0 else 0

    def begin(self, i: int) -> int:
        """Where declaration i's first token is."""
        gap = _GAP.match(self.text, self.after(i))
        assert gap is not None  # it matches the empty string too
        return gap.end()

    def in_files(self, files: set[str]) -> list[int]:
        """The declarations whose first token is in one of `files` (by line markers)."""
        n = len(self.text)
        bounds = [(0, "<stdin>"), *((where, name) for where, name, _ in self.markers)]
        found = []
        for k, (where, name) in enumerate(bounds):
            if name not in files:
                continue
            until = bounds[k + 1][0] if k + 1 < len(bounds) else n
            i = bisect_right(self.ends, where)
            while i < len(self.ends) and self.after(i) < until:
                if where <= self.begin(i) < until:
                    found.append(i)
                i += 1
        return found

    def mentions(self, i: int) -> tuple[set[str], set[str]]:
        """The names declaration i mentions: identifiers (not keywords, tag names or
        enumerators it defines), and tag names."""
        text, begin, end = self.text, self.begin(i), self.ends[i]
        if (i in self.enum_before or text.find("enum", begin, end) >= 0
                or (text.find("[[", begin, end) >= 0
                    and _TAG_ATTRIBUTES.search(text, begin, end) is not None)):
            found: set[str] = set()
            _scan(text, begin, end, i in self.enum_before, self.closers, set(), found, None)
            return ({key[3:] for key in found if key.startswith("id:")},
                    {key[4:] for key in found if key.startswith("tag:")})
        found_names = _MENTIONED.findall(text, begin, end)
        if not found_names:
            return set(), set()
        tags, ids = (set(names) for names in zip(*found_names, strict=True))
        tags.discard("")
        return ids - _NOT_MENTIONED, tags


def _markers(text: str) -> list[tuple[int, str, int]]:
    """The line markers (`# LINE "FILE" ...` lines) of `text`, in order: where each
    starts, its file, and the line of the text before its newline (LINE - 1)."""
    found = [(m.start() + 1, m.group(2), int(m.group(1)) - 1)
             for m in _MARKER_AFTER_NEWLINE.finditer(text)]
    first = _MARKER.match(text)
    if first is not None:
        found.insert(0, (0, first.group(2), int(first.group(1)) - 1))
    return found


def _declarations(text: str) -> int:
    """How many file-scope declarations `text` has."""
    return len(_Index(text).ends)


def _scan(text: str, pos: int, end: int, pending_enum: bool, closers: dict[int, int],
          defines: set[str], mentions: set[str] | None,
          group: re.Pattern[str] | None = None) -> bool:
    """Go through the tokens of one declaration (text[pos:end]; `pending_enum`: an
    `enum` before it waits for its '{'): add what it defines to `defines` and,
    unless `mentions` is None, what it mentions to `mentions`; return whether an
    `enum` keyword at its end still waits for its '{'.  Without `mentions`, a
    bracket group opened at depth 0 or more that spells no tag keyword that could
    matter (see `_inert`) is stepped over: inside, only mentions happen (no
    depth 0, no enum body, no tag definition).  `closers` tells where groups close;
    `group` (_GROUP), if given, matches one it does not know."""
    depth = 0
    tag_kw = ""  # 'struct'/'union'/'enum' just seen
    enum_depth = -1  # the brace depth of the enum body we are in
    typedef = after_eq = False
    last_id = ""  # the last identifier at depth 0: a declarator's name
    named: list[str] = []  # tags referred to (not defined) at depth 0
    resume = pos
    while resume >= 0:
        tokens, resume = _TOKEN.finditer(text, resume, end), -1
        for m in tokens:
            kind = m.lastgroup
            if kind == "id":
                tok = m.group()
                if tok in _TAGS:
                    tag_kw, pending_enum = tok, tok == "enum"
                    continue
                if tag_kw:
                    key = f"tag:{tok}"
                    if mentions is not None:
                        mentions.add(key)
                    after = m.end()
                    following = text[after:after + 40].lstrip()
                    if following.startswith("{") or (following.startswith(";") and depth == 0):
                        defines.add(key)  # a definition or a forward declaration
                    elif depth == 0:
                        named.append(tok)
                    tag_kw = ""
                    continue
                if tok == "typedef" and depth == 0:
                    typedef = True
                if tok not in _KEYWORDS:
                    if enum_depth >= 0 and depth == enum_depth + 1 and not after_eq:
                        defines.add(f"id:{tok}")  # an enumerator
                    elif mentions is not None:
                        mentions.add(f"id:{tok}")
                    if depth == 0:
                        last_id = tok
                continue
            if kind == "marker":
                continue
            if tag_kw and text.startswith("[[", m.start()):
                # `struct [[vmgen::state(1, 1)]] S {`: the tag follows the attributes
                resume = _group_end(text, m.start(), end)
                break
            tag_kw = ""
            if kind != "p":
                continue
            tok = m.group()
            if tok in "{([":
                start = m.start()
                if tok == "{" and pending_enum:
                    enum_depth = depth
                if tok == "(" and typedef and depth == 0:
                    inner = _POINTER_NAME.match(text, start)
                    if inner is not None:  # typedef int (*fn)(void): the name is inside
                        defines.add(f"id:{inner.group(1)}")
                depth += 1
                pending_enum = False
                # Inside, every token is deeper than the opener: neither at depth
                # 0 nor at an enum body's depth (that body's own '{' aside).
                if mentions is None and depth > 0 and (enum_depth < 0 or depth - 1 > enum_depth):
                    close = closers.get(start, -1)
                    if close < 0:
                        whole = None if group is None else group.match(text, start)
                        close = end if whole is None else whole.end() - 1
                    if close < end and _inert(text, start, close):
                        if text.find("}", start, close) >= 0:
                            after_eq = False  # as that '}' would have done
                        resume = close  # on to the closing bracket
                        break
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
                    defines.add(f"id:{last_id}")
                last_id = ""
    if typedef:
        # `typedef struct T A;` gives T's definition a name (see slice_text)
        defines.update(f"alias:{tag}" for tag in named)
    return pending_enum


def _group_end(text: str, pos: int, end: int) -> int:
    """Where the bracket group opened at text[pos] ends (after its closer), literals
    and directive lines understood; `end` if it does not close before."""
    depth = 0
    for m in _SPLIT_TOKENS.finditer(text, pos, end):
        c = m.group()
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
            if depth == 0:
                return m.end()
    return end


# The commonest declarations that define anything, whole (group names say what
# each part is): `typedef struct T N;`, `[typedef] struct [T] { ... } [N];`,
# `typedef enum [T] { A, B = 1 } N;`.  White space only between the parts (no
# line marker), a body without a nested body, an enum body without brackets or
# literals.
_WS = r"[ \t\r\f\v\n]"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_COMMON = (
    rf"typedef{_WS}+(?P<alias_kw>struct|union|enum){_WS}+(?P<alias_tag>{_NAME}){_WS}+"
    rf"(?P<alias>{_NAME}){_WS}*;"
    rf"|(?P<body_typedef>typedef{_WS}+)?(?P<body_kw>struct|union)"
    rf"(?:{_WS}+(?P<body_tag>{_NAME}))?(?P<body_gap>{_WS}*)(?P<body>{_BODY}){_WS}*"
    rf"(?:(?P<body_alias>{_NAME}){_WS}*)?;"
    rf"|typedef{_WS}+enum(?:{_WS}+(?P<enum_tag>{_NAME}))?(?P<enum_gap>{_WS}*)"
    r"""\{(?P<enumerators>[^{}()\[\];"'#]*)\}"""
    rf"{_WS}*(?P<enum_alias>{_NAME}){_WS}*;"
)
_ENUMERATOR_PART = re.compile(rf"{_NUMBER}|({_NAME})")


@cache
def _one_match(pattern: str) -> re.Pattern[str]:
    """A shortcut's expression, compiled at its first use."""
    return re.compile(pattern, re.MULTILINE)


def _common(text: str, begin: int, end: int, defines: set[str]) -> bool | None:
    """If declaration text[begin:end] is one of the _COMMON forms, what `_scan`
    finds (only faster): add what it defines to `defines` and return whether an
    `enum` at its end waits for its '{'; else None (and nothing added)."""
    m = _one_match(_COMMON).fullmatch(text, begin, end)
    if m is None:
        return None
    if m.group("alias_kw") is not None:
        # typedef TAG_KW TAG ALIAS;  TAG is a tag name (no definition: a name
        # follows it); ALIAS the declarator.
        if m.group("alias_tag") in _TAGS or m.group("alias") in _KEYWORDS:
            return None
        defines.add("id:" + m.group("alias"))
        defines.add("alias:" + m.group("alias_tag"))
        return m.group("alias_kw") == "enum"
    if m.group("body_kw") is not None:
        # [typedef] TAG_KW [TAG] { ... } [ALIAS];  a definition of TAG when the '{'
        # follows it within the 40 characters `_scan` looks at; a body without
        # `enum` defines nothing; ALIAS is defined by a typedef.
        tag, alias = m.group("body_tag"), m.group("body_alias")
        body_start, body_end = m.span("body")
        if (tag in _TAGS or alias in _KEYWORDS
                or text.find("enum", body_start, body_end) >= 0):
            return None
        if tag is not None and len(m.group("body_gap")) < 40:
            defines.add("tag:" + tag)
        if alias is not None and m.group("body_typedef") is not None:
            defines.add("id:" + alias)
        return False
    # typedef enum [TAG] { A, B = x, ... } ALIAS;  the enumerators are the names
    # before each item's '='.
    tag, enumerators = m.group("enum_tag"), m.group("enumerators")
    if tag in _TAGS or m.group("enum_alias") in _KEYWORDS or _DEFINING.search(enumerators):
        return None
    if tag is not None and len(m.group("enum_gap")) < 40:
        defines.add("tag:" + tag)
    for item in enumerators.split(","):
        for name in _ENUMERATOR_PART.findall(item.partition("=")[0]):
            if name and name not in _KEYWORDS:
                defines.add("id:" + name)
    defines.add("id:" + m.group("enum_alias"))
    return False


def _inert(text: str, start: int, close: int) -> bool:
    """Whether the group text[start:close] defines nothing and leaves no state:
    no `enum` (an enum body, or an `enum` waiting for one), and no tag that a '{'
    follows (a tag name is followed by '{' only if the group holds one)."""
    if text.find("enum", start, close) >= 0:
        return False
    if text.find("{", start + 1, close) < 0:
        return True
    return text.find("struct", start, close) < 0 and text.find("union", start, close) < 0


_last: list[_Index] = []  # the last text's index: the pipeline may ask twice


def _index_of(text: str) -> _Index:
    """The index of `text`, made once for the pipeline's successive questions
    (slice_parts, then slice_text when the text does not split)."""
    if not _last or _last[0].text is not text:
        _last[:] = [_Index(text)]
    return _last[0]


def slice_text(text: str, root_files: Iterable[str], root_names: Iterable[str] = ()) -> str:
    """The declarations of `text` the annotated structs need.

    `root_files`: files whose declarations are all kept (the target probe);
    `root_names`: struct tags and typedef names that are kept with what they need
    (those an annotations file names)."""
    index = _index_of(text)
    graph = _Graph(index)
    work = index.annotated + index.in_files(set(root_files))
    names = {f"tag:{n}" for n in root_names} | {f"id:{n}" for n in root_names}
    if names:
        work += [i for i, defines in index.defines.items() if defines & names]
    kept: list[int] = []
    graph.close(work, set(), kept)
    return _emit(index, sorted(kept))


def slice_parts(text: str, root_files: Iterable[str], min_size: int) -> tuple[str, str] | None:
    """The text `slice_text` keeps (with no `root_names`), as two slices that can be
    parsed and lowered apart: the device states split in two runs in source order,
    each slice what its run needs (a declaration both need is in both), so that
    the two are of about the same size.  None if fewer than two states are
    annotated or the declarations kept add up to less than `min_size` characters
    (not worth two parses).

    Together they keep what `slice_text` keeps; every state of the second slice's
    run comes after every state of the first's, so lowering the first gives the
    structs a lowering of the whole gives first (see vmgen.driver.pipeline)."""
    index = _index_of(text)
    graph = _Graph(index)
    states: list[int] = []
    common = index.in_files(set(root_files))
    for i in index.annotated:
        (states if text.find("vmgen::state", index.begin(i), index.ends[i]) >= 0
         else common).append(i)
    if len(states) < 2:
        return None
    # Each state's closure on top of those before it (after it, going backwards):
    # after state k, `kept` holds what states[:k + 1] (states[k:]) need.
    runs = []
    for order in (states, states[::-1]):
        kept: list[int] = []
        seen: set[int] = set()
        graph.close(common, seen, kept)
        size, sizes, ends = sum(map(graph.size, kept)), [], []
        for state in order:
            before = len(kept)
            graph.close([state], seen, kept)
            size += sum(map(graph.size, kept[before:]))
            sizes.append(size)
            ends.append(len(kept))
        runs.append((kept, sizes, ends))
    (forward, sizes, ends), (backward, back_sizes, back_ends) = runs
    if sizes[-1] < min_size:
        return None
    # the split that makes the larger slice smallest: states[:k] and states[k:]
    n = len(states)
    k = min(range(1, n), key=lambda k: max(sizes[k - 1], back_sizes[n - k - 1]))
    first, second = forward[:ends[k - 1]], backward[:back_ends[n - k - 1]]
    return _emit(index, sorted(first)), _emit(index, sorted(second))


class _Graph:
    """Which declarations define each name, to close a set of declarations over
    "mentions -> every declaration defining it".  A kept struct, union or enum
    tag also keeps the typedefs that name it (`typedef struct T A;`): the first
    such typedef gives T's definition its name in the IR, so leaving one out
    would change the result."""

    def __init__(self, index: _Index) -> None:
        self.index = index
        self.by_id: dict[str, list[int]] = {}  # identifier -> the declarations defining it
        self.by_tag: dict[str, list[int]] = {}
        self.by_alias: dict[str, list[int]] = {}  # tag -> the typedefs naming it
        self.mentions: dict[int, tuple[set[str], set[str]]] = {}  # index.mentions, once
        tables = {"id": self.by_id, "tag": self.by_tag, "alias": self.by_alias}
        for i, defines in index.defines.items():
            for key in defines:
                kind, _, name = key.partition(":")
                tables[kind].setdefault(name, []).append(i)

    def size(self, i: int) -> int:
        """Declaration i's length in characters (with what precedes it)."""
        return self.index.ends[i] - self.index.after(i)

    def close(self, work: list[int], keep: set[int], kept: list[int]) -> None:
        """Add to `keep` (and, in the order they are added, to `kept`) the
        declarations `work` and everything they need, transitively."""
        index, by_id, by_tag, by_alias = self.index, self.by_id, self.by_tag, self.by_alias
        mentions = self.mentions
        work = list(work)
        while work:
            i = work.pop()
            if i in keep:
                continue
            keep.add(i)
            kept.append(i)
            found = mentions.get(i)
            if found is None:
                found = mentions[i] = index.mentions(i)
            ids, tags = found
            for name in ids & by_id.keys():
                work += by_id[name]
            for name in tags & by_tag.keys():
                work += by_tag[name]
            defines = index.defines.get(i)
            if defines is not None and by_alias:
                for key in defines:
                    if key.startswith("tag:"):
                        work += by_alias.get(key[4:], ())


def _emit(index: _Index, kept: list[int]) -> str:
    """The declarations `kept` (ascending), each behind a line marker giving its
    first token's line, at that token's column."""
    text, markers = index.text, index.markers
    next_marker = 0
    file, line, counted = "<stdin>", 1, 0  # text[counted] is on `line` of `file`
    out = []
    for i in kept:
        begin, end = index.begin(i), index.ends[i]
        while next_marker < len(markers) and markers[next_marker][0] < begin:
            counted, file, line = markers[next_marker]
            next_marker += 1
        line += text.count("\n", counted, begin)
        counted = begin
        column = begin - (text.rfind("\n", 0, begin) + 1)
        out.append(f'# {line} "{file}"\n{" " * column}{text[begin:end]}\n')
    return "".join(out)
