"""Reduce a preprocessed translation unit to what type declarations need.

A device's ``.c`` file drags in glib and QEMU headers whose inline function
bodies (GNU ``asm volatile``, statement expressions) and file-scope object
initializers (VMState tables with ``__builtin_offsetof``, ``typeof``, range
designators ``[A ... B] = x``) pycparser refuses.  vmgen needs none of them,
so :func:`neutralize` blanks them out before the parse:

* a function body at file scope becomes ``;`` (``int f(void) { ... }`` ->
  ``int f(void) ;``): a prototype.  A K&R definition (``int f(a) int a; {...}``)
  keeps an empty body ``{ }`` instead, because its parameter declarations
  only parse in front of a body;
* the initializer of a file-scope object is dropped, ``=`` included:
  ``int a = 1, b = {2};`` -> ``int a    , b      ;``;
* a file-scope ``asm(...);`` / ``__asm__ volatile(...);`` statement and a
  file-scope ``_Static_assert(...);`` / ``static_assert(...);`` disappear
  (their expressions often use ``__builtin_offsetof``; they declare nothing);
  an asm label after a declarator (``int f(void) __asm__("g");``) is dropped;
* a GNU ``__attribute__((...))`` / ``__attribute((...))`` is dropped wherever
  it is, struct bodies and parameter lists included.

Nothing else changes: struct, union and enum bodies (enumerator values,
bit-field widths, member arrays) and every other declaration stay as written.

Removed characters become spaces, so the result has exactly the length of the
input and every newline at the same offset: every remaining token keeps its
line and column, and every line marker (``# N "file" flags``) is kept, also
inside removed text.  Other directive lines inside removed text (``#pragma``
from ``_Pragma`` in a function body) are blanked.  String and character
literals, comments and directive lines never count as braces, parentheses
or semicolons.

The scan is one linear pass: regular expressions jump between the
characters that matter (brackets, '=', ';', quotes, '/', '#'), keywords are
found up front with plain substring searches, and a struct body or function
body with nothing special inside is taken in one match.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["neutralize"]

# What the file-scope loop reacts to; a parenthesised group without brackets,
# literals or directives inside (most parameter lists) is one match.
_TOP = re.compile(r"""\([^(){}\[\]"'/#]*\)|\[[^(){}\[\]"'/#]*\]|[{}()\[\]=;"'/#]""")
# Inside kept brackets (parameter lists, struct bodies, attribute lists).
_KEPT = re.compile(r"""[{}()\[\]"'/#]""")
# Inside a function body only braces nest (parentheses are balanced anyway).
_BODY = re.compile(r"""[{}"'/#]""")
# Removed text inside brackets or an initializer, which ends at ',' or ';'.
_INIT = re.compile(r"""[{}()\[\],;"'/#]""")

# Whole groups in one match, where the loops above would stop at every bracket.
# Between brackets: no literal, no comment, no '#' but a directive line's at
# column 0 (a line marker from a macro expansion); each form is deterministic
# (one way to match), so a text that is not of that form fails at once and takes
# the loop instead.  Only texts of FAST_TEXT characters or more take them: a
# shorter one does not pay for compiling them (some milliseconds).
FAST_TEXT = 1 << 16
_RUN = r"""[^{}()\[\]"'/#]*(?:(?:/(?![*/])|(?<=\n)#[^\n]*(?![^\n]))[^{}()\[\]"'/#]*)*"""
_FLAT_GROUP = rf"\[{_RUN}\]|\({_RUN}\)"
# A kept group (a struct body, a parameter list, an array size) whose own groups
# hold no bracket: `[[...(...)...]]` attributes, `(*fn)(int)`, `[N]`.
_FLAT_KEPT = (
    rf"\{{{_RUN}(?:(?:\[\[{_RUN}(?:\({_RUN}\){_RUN})*\]\]|{_FLAT_GROUP}){_RUN})*\}}"
    rf"|\({_RUN}(?:(?:{_FLAT_GROUP}){_RUN})*\)"
    rf"|\[{_RUN}(?:(?:{_FLAT_GROUP}){_RUN})*\]"
)
# A function body four braces deep at most; string literals (closed on their line)
# are fine, parentheses do not count.
_BODY_RUN = (r"""[^{}"'/#]*(?:(?:"[^"\\\n]*(?:\\.[^"\\\n]*)*"|/(?![*/])|(?<=\n)#[^\n]*(?![^\n]))"""
             r"""[^{}"'/#]*)*""")


def _nested_body(levels: int) -> str:
    body = rf"\{{{_BODY_RUN}\}}"
    for _ in range(levels - 1):
        body = rf"\{{{_BODY_RUN}(?:{body}{_BODY_RUN})*\}}"
    return body


_NESTED_BODY = _nested_body(4)


@cache
def _one_match(pattern: str) -> re.Pattern[str]:
    """A shortcut's expression, compiled at its first use."""
    return re.compile(pattern)

# Parentheses nested up to three deep, no literal or directive inside: the
# common `__attribute__ ((__format__ (__printf__, 1, 2)))` in one match.
_PLAIN = r"""[^()"'/#]*"""
_SIMPLE_PARENS = re.compile(
    rf"\({_PLAIN}(?:\({_PLAIN}(?:\({_PLAIN}\){_PLAIN})*\){_PLAIN})*\)"
)
_STRING = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"?')
_CHAR = re.compile(r"'[^'\\\n]*(?:\\.[^'\\\n]*)*'?")
_BLOCK_COMMENT_END = re.compile(r"\*/")
_SPACE = re.compile(r"\s*")
_ASM_QUALIFIERS = re.compile(
    r"(?:\s*\b(?:volatile|__volatile__|__volatile|inline|__inline__|__inline|goto)\b)*\s*"
)
_DIRECTIVE = re.compile(r"[ \t]*#")
_LINE_MARKER = re.compile(r"[ \t]*#[ \t]*(?:line[ \t]+)?\d")

_ATTRIBUTE, _ASM, _STATIC_ASSERT = 1, 2, 3
_KEYWORDS = {
    "__attribute__": _ATTRIBUTE, "__attribute": _ATTRIBUTE,
    "asm": _ASM, "__asm__": _ASM, "__asm": _ASM,
    "_Static_assert": _STATIC_ASSERT, "static_assert": _STATIC_ASSERT,
}
# Substrings that find every keyword (str.find is fast).
_KEYWORD_PARTS = ("__attribute", "asm", "Static_assert", "static_assert")

_TYPE_BODY, _FUNCTION_BODY, _KR_BODY = 1, 2, 3
_OPEN = "([{"
_CLOSE = ")]}"
_TAGS = frozenset({"struct", "union", "enum"})
# Words that take a parenthesised operand and still name a type:
# `enum E : typeof(x) {` opens an enum body, not a function body.
_TYPE_OPERATORS = frozenset({
    "typeof", "__typeof__", "__typeof", "typeof_unqual", "__typeof_unqual__",
    "_Atomic", "_BitInt", "_Alignas", "alignas",
})
_TYPE_OPERATOR_ENDS = frozenset(word[-1] for word in _TYPE_OPERATORS)
_WORD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
_WORD = frozenset(_WORD_CHARS)


class _Spaces(dict[int, int]):
    """A str.translate table: every character but the newline becomes a space."""

    def __missing__(self, key: int) -> int:
        return 32


_TO_SPACES = _Spaces({i: 32 for i in range(128)})
_TO_SPACES[10] = 10


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.n = len(text)
        self.out: list[str] = []
        self.emitted = 0  # text[:emitted] is in `out`
        # depth-0 groups that do not count as tokens when looking back
        # ([[...]], __attribute__((...)), asm labels): end -> start
        self.transparent: dict[int, int] = {}
        # the last file-scope (...) group: (start, end)
        self.last_group = (-1, -1)
        self.keywords = self.find_keywords()  # start -> (end, kind)
        # the shortcuts for groups taken whole, on a long text
        fast = self.n >= FAST_TEXT
        self.flat_kept = _one_match(_FLAT_KEPT).match if fast else None
        self.nested_body = _one_match(_NESTED_BODY).match if fast else None
        self.keyword_starts = sorted(self.keywords)
        self.keyword_index = 0

    # --- keywords -------------------------------------------------------

    def find_keywords(self) -> dict[int, tuple[int, int]]:
        text, n = self.text, self.n
        found: dict[int, tuple[int, int]] = {}
        for part in _KEYWORD_PARTS:
            i = text.find(part)
            while i >= 0:
                start = self.word_start(i)
                end = i + len(part)
                while end < n and text[end] in _WORD:
                    end += 1
                kind = _KEYWORDS.get(text[start:end])
                if kind is not None:
                    found[start] = (end, kind)
                i = text.find(part, end)
        return found

    def next_keyword(self, pos: int) -> int:
        """The start of the first keyword at or after `pos`, else len(text)."""
        starts, i = self.keyword_starts, self.keyword_index
        while i < len(starts) and starts[i] < pos:
            i += 1
        self.keyword_index = i
        return starts[i] if i < len(starts) else self.n

    # --- output ---------------------------------------------------------

    def blank(self, start: int, end: int, first: str = "") -> None:
        """Replace text[start:end] by spaces (newlines and line markers kept);
        `first`, if given, replaces the first character instead."""
        if start >= end:
            return
        text = self.text
        self.out.append(text[self.emitted:start])
        segment = text[start:end]
        # Without a newline there is no line marker either (it would start a line).
        one_line = "\n" not in segment
        blanked = " " * len(segment) if one_line else segment.translate(_TO_SPACES)
        if "#" in segment and not one_line:
            lines = segment.split("\n")
            new = blanked.split("\n")
            # The first piece is a line of its own only if `start` begins one.
            first_line = 0 if start == 0 or text[start - 1] == "\n" else 1
            for i in range(first_line, len(lines)):
                if "#" in lines[i] and _LINE_MARKER.match(lines[i]):
                    new[i] = lines[i]
            blanked = "\n".join(new)
        if first:
            blanked = first + blanked[1:]
        self.out.append(blanked)
        self.emitted = end

    # --- skipping literals, comments and directives -----------------------

    def skip_literal(self, i: int) -> int:
        """`i` is at a quote, '/' or '#'; return the index after the literal,
        comment or directive line (`i + 1` when '/' starts no comment)."""
        text = self.text
        c = text[i]
        if c == '"':
            m = _STRING.match(text, i)
            return i + 1 if m is None else m.end()
        if c == "'":
            if i > 0 and text[i - 1] in _WORD and text[self.word_start(i - 1)].isdigit():
                return i + 1  # a C23 digit separator: 1'000
            return self.match_end(_CHAR, i)
        if c == "/":
            nxt = text[i + 1:i + 2]
            if nxt == "*":
                m = _BLOCK_COMMENT_END.search(text, i + 2)
                return self.n if m is None else m.end()
            if nxt != "/":
                return i + 1
        elif i > 0 and text[i - 1] != "\n" and text[text.rfind("\n", 0, i) + 1:i].strip():
            return i + 1  # a '#' inside a line is no directive
        # a line comment or a directive line: up to the end of the line
        j = text.find("\n", i)
        return self.n if j < 0 else j

    def match_end(self, pattern: re.Pattern[str], i: int) -> int:
        m = pattern.match(self.text, i)
        return i if m is None else m.end()

    # --- looking back ---------------------------------------------------

    def previous(self, i: int) -> int:
        """Index of the last significant character before `i` at file scope
        (white space, directive lines and transparent groups skipped), or -1."""
        text = self.text
        j = i - 1
        while j >= 0:
            c = text[j]
            if c in " \t\r\f\v":
                j -= 1
                continue
            if c == "\n":
                j -= 1
                # a directive line ending here is not code
                start = text.rfind("\n", 0, j + 1) + 1
                if _DIRECTIVE.match(text, start):
                    j = start - 1
                continue
            group = self.transparent.get(j + 1, -1)
            if group >= 0:
                j = group - 1
                continue
            return j
        return -1

    def word_start(self, j: int) -> int:
        """`text[j]` is a word character; the index where its word starts."""
        text = self.text
        end = j + 1
        while True:
            lo = max(0, end - 64)
            window = text[lo:end]
            rest = window.rstrip(_WORD_CHARS)
            if rest or lo == 0:
                return lo + len(rest)
            end = lo

    def word_before(self, i: int) -> tuple[int, str]:
        """The word (identifier, keyword, number) that is the last significant
        token before `i`, and its start; (-1, '') if that token is no word."""
        j = self.previous(i)
        if j < 0 or self.text[j] not in _WORD:
            return -1, ""
        start = self.word_start(j)
        return start, self.text[start:j + 1]

    # --- regions --------------------------------------------------------

    def kept_group(self, i: int) -> int:
        """`i` is at an opening bracket; return the index after its match,
        dropping GNU attributes inside."""
        text, n = self.text, self.n
        depth = 0
        pos = i
        search = _KEPT.search
        keyword = self.next_keyword(pos)
        flat = None if self.flat_kept is None else self.flat_kept(text, i)
        if flat is not None and keyword >= flat.end():
            return flat.end()  # no attribute inside: as the loop below would find
        while True:
            m = search(text, pos)
            j = n if m is None else m.start()
            if keyword < j:
                end, kind = self.keywords[keyword]
                pos = self.attribute(keyword, end) if kind == _ATTRIBUTE else end
                keyword = self.next_keyword(pos)
                continue
            if m is None:
                return n
            c = text[j]
            if c in _OPEN:
                depth += 1
                pos = j + 1
            elif c in _CLOSE:
                depth -= 1
                pos = j + 1
                if depth <= 0:
                    return pos
            else:
                pos = self.skip_literal(j)
            if keyword < pos:
                keyword = self.next_keyword(pos)

    def attribute(self, start: int, after_keyword: int) -> int:
        """Drop `__attribute__ ((...))` starting at `start`; return the index after it."""
        j = self.skip_space(after_keyword)
        end = self.balanced(j) if self.text[j:j + 1] == "(" else after_keyword
        self.blank(start, end)
        return end

    def balanced(self, i: int) -> int:
        """`i` is at an opening bracket of removed text; the index after its match."""
        text, n = self.text, self.n
        m = _SIMPLE_PARENS.match(text, i)
        if m is not None:
            return m.end()
        depth = 0
        pos = i
        search = _KEPT.search
        while True:
            m = search(text, pos)
            if m is None:
                return n
            j = m.start()
            c = text[j]
            if c in _OPEN:
                depth += 1
                pos = j + 1
            elif c in _CLOSE:
                depth -= 1
                pos = j + 1
                if depth <= 0:
                    return pos
            else:
                pos = self.skip_literal(j)

    def body_end(self, i: int) -> int:
        """`i` is at the '{' of a function body; the index after its '}'."""
        text, n = self.text, self.n
        whole = None if self.nested_body is None else self.nested_body(text, i)
        if whole is not None:
            return whole.end()
        depth = 0
        pos = i
        search = _BODY.search
        while True:
            m = search(text, pos)
            if m is None:
                return n
            j = m.start()
            c = text[j]
            if c == "{":
                depth += 1
                pos = j + 1
            elif c == "}":
                depth -= 1
                pos = j + 1
                if depth == 0:
                    return pos
            else:
                pos = self.skip_literal(j)

    def initializer_end(self, i: int) -> int:
        """`i` is at the '=' of a file-scope initializer; the index of the ','
        or ';' that ends it (or of an unbalanced closing bracket)."""
        text, n = self.text, self.n
        depth = 0
        pos = i + 1
        search = _INIT.search
        while True:
            m = search(text, pos)
            if m is None:
                return n
            j = m.start()
            c = text[j]
            if c in _OPEN:
                depth += 1
                pos = j + 1
            elif c in _CLOSE:
                if depth == 0:
                    return j
                depth -= 1
                pos = j + 1
            elif c in ",;":
                if depth == 0:
                    return j
                pos = j + 1
            else:
                pos = self.skip_literal(j)

    def skip_space(self, i: int, pattern: re.Pattern[str] = _SPACE) -> int:
        """The index after what `pattern` (white space by default) matches at `i`."""
        return self.match_end(pattern, i)

    def through_semicolon(self, i: int) -> int:
        """The index after the ';' that follows `i` (white space skipped), else `i`."""
        j = self.skip_space(i)
        return j + 1 if self.text[j:j + 1] == ";" else i

    # --- file scope -----------------------------------------------------

    def brace_kind(self, brace: int) -> int:
        """What the file-scope '{' at `brace` opens: a struct, union or enum
        body when it follows `struct`, `struct Tag`, `enum Tag : type` or
        `enum : type` (attributes anywhere between); a K&R function body when
        it follows a ';'; else a function body."""
        j = self.previous(brace)
        if j >= 0 and self.text[j] == ";":
            return _KR_BODY
        return _TYPE_BODY if self.is_type_body(brace, j) else _FUNCTION_BODY

    def is_type_body(self, brace: int, j: int) -> bool:
        """`brace`: a file-scope '{'; `j`: its previous significant character."""
        text = self.text
        if j < 0:
            return False
        if text[j] == ")":
            # `enum E : typeof(x) {`: a type operator's group, not a declarator
            start, end = self.last_group
            if end != j + 1:
                return False
            k = self.previous(start)
            return (k >= 0 and text[k] in _TYPE_OPERATOR_ENDS
                    and text[self.word_start(k):k + 1] in _TYPE_OPERATORS)
        if text[j] not in _WORD:
            return False
        start = self.word_start(j)
        word = text[start:j + 1]
        if word in _TAGS:
            return True
        before, tag = self.word_before(start)
        if tag in _TAGS:
            return True
        # `enum E : unsigned long {`: words back to a ':' that follows `enum [E]`
        while before >= 0:
            start, before = before, self.word_before(before)[0]
        colon = self.previous(start)
        if colon < 0 or text[colon] != ":":
            return False
        start, word = self.word_before(colon)
        return word == "enum" or (start >= 0 and self.word_before(start)[1] == "enum")

    def run(self) -> str:
        text, n = self.text, self.n
        pos = 0
        search = _TOP.search
        keyword = self.next_keyword(0)
        while True:
            m = search(text, pos)
            j = n if m is None else m.start()
            if keyword < j:
                pos = self.keyword(keyword)
                keyword = self.next_keyword(pos)
                continue
            if m is None:
                break
            c = text[j]
            if c == "(":
                pos = m.end() if m.end() - j > 1 else self.kept_group(j)  # simple: one match
                self.last_group = (j, pos)
            elif c == "[":
                pos = m.end() if m.end() - j > 1 else self.kept_group(j)
                if text[j + 1:j + 2] == "[":  # a C23 attribute
                    self.transparent[pos] = j
            elif c == "{":
                kind = self.brace_kind(j)
                if kind == _TYPE_BODY:
                    pos = self.kept_group(j)
                else:
                    pos = self.body_end(j)
                    if kind == _KR_BODY:  # its parameter declarations need a body
                        self.blank(j + 1, pos - 1)
                    else:
                        self.blank(j, pos, ";")
            elif c == "=":
                pos = self.initializer_end(j)
                self.blank(j, pos)
            elif c == ";":
                pos = j + 1
                self.transparent.clear()
            elif c in ")]}":
                pos = j + 1  # unbalanced: leave it to the parser
            else:
                pos = self.skip_literal(j)
            if keyword < pos:
                keyword = self.next_keyword(pos)
        self.out.append(text[self.emitted:])
        return "".join(self.out)

    def keyword(self, start: int) -> int:
        """A file-scope keyword at `start`; return where to go on."""
        text = self.text
        after, kind = self.keywords[start]
        if kind == _ATTRIBUTE:
            end = self.attribute(start, after)
            self.transparent[end] = start
            return end
        j = self.skip_space(after, _ASM_QUALIFIERS if kind == _ASM else _SPACE)
        if text[j:j + 1] != "(":
            return after  # not what it seems: leave it to the parser
        end = self.balanced(j)
        prev = self.previous(start)
        statement = kind == _STATIC_ASSERT or prev < 0 or text[prev] in ";}"
        if statement:
            end = self.through_semicolon(end)
        self.blank(start, end)
        if not statement:
            self.transparent[end] = start  # an asm label
        return end


def neutralize(text: str) -> str:
    """`text` (preprocessed C, line markers kept) without function bodies,
    file-scope initializers, file-scope asm and static assertions, and GNU
    attributes; same length, every newline and line marker in place."""
    return _Scanner(text).run()
