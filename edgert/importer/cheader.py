"""A reader for the C/C++ headers of an Edge Impulse deployment export, *as data*.

The export's ``model-parameters/*.h`` and ``tflite-model/*`` files are C/C++ source, but what
edgert needs from them is plain data: ``#define`` constants, ``typedef struct`` field lists and
the initializers of global variables (numbers, strings, nested ``{...}`` lists, designated
``.field = value`` items, ``&symbol`` pointers, casts and small integer arithmetic). This module
tokenizes that subset and builds Python values from it. It never compiles or executes what it
reads: function bodies are skipped unread, ``#include`` is ignored, and ``#if`` conditions are
evaluated over the file's own ``#define`` values with C preprocessor rules (an unknown name is 0).

Every step is bounded, so a hostile or broken file fails with :class:`HeaderError` in time
and memory proportional to its size (itself limited by the caller): nesting depth, list
lengths, string lengths and expression sizes have caps, and every loop consumes input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np

from ..errors import EdgertError

MAX_DEPTH = 48               # nesting of {...} and (...)
MAX_STRING = 1 << 20         # characters in one string literal
MAX_PP_NESTING = 64          # nested #if blocks


class HeaderError(EdgertError, ValueError):
    """A header that is not the data subset of C an export uses, or is truncated/hostile."""


# ------------------------------------------------------------------------------ values
@dataclass(frozen=True)
class Ident:
    """A bare identifier (an enum constant, a macro not defined in the export, an array)."""
    name: str


@dataclass(frozen=True)
class AddressOf:
    """``&symbol`` (also what ``(void*)&x`` and ``const_cast<...>(&x)`` reduce to)."""
    name: str


@dataclass(frozen=True)
class Call:
    """``name(args)``: a constructor-style initializer such as ``ei_impulse_handle_t(&x)``."""
    name: str
    args: tuple


@dataclass(frozen=True)
class Expr:
    """An expression that is not constant data (``tensor_arena + 1552``); kept as text."""
    text: str
    terms: tuple = ()


@dataclass
class Item:
    """One element of a ``{...}`` list: optional ``.designator``, the value and the comment
    written after it on the same line (exports name positional fields there:
    ``3, // int implementationVersion``)."""
    value: Any
    designator: Optional[str] = None
    comment: str = ""


@dataclass
class InitList:
    """A ``{...}`` initializer."""
    items: list[Item] = field(default_factory=list)

    def values(self) -> list[Any]:
        return [i.value for i in self.items]

    def get(self, name: str, default: Any = None) -> Any:
        for i in self.items:
            if i.designator == name:
                return i.value
        return default

    @property
    def designated(self) -> bool:
        return any(i.designator for i in self.items)


@dataclass
class NumberArray:
    """A ``{...}`` list made only of number literals (weights, model bytes), parsed in bulk
    into one numpy array instead of millions of Python objects. ``is_float`` tells whether
    any literal had a decimal point or exponent."""
    array: np.ndarray
    is_float: bool

    def values(self) -> list[Any]:
        return self.array.tolist()

    @property
    def items(self) -> list[Item]:
        return [Item(v) for v in self.array.tolist()]

    def get(self, name: str, default: Any = None) -> Any:
        return default

    designated = False


Value = Union[int, float, str, bool, None, Ident, AddressOf, Call, Expr, InitList, NumberArray]


@dataclass
class Variable:
    name: str
    type: str              # the declaration's type words, e.g. "const ei_dsp_config_spectral_analysis_t"
    dims: tuple            # declared array dimensions as written ("" for [])
    value: Value
    file: str
    line: int


@dataclass
class Header:
    """What one file holds: macros, struct field lists and global variable initializers."""
    path: str
    defines: dict[str, str] = field(default_factory=dict)
    structs: dict[str, list[str]] = field(default_factory=dict)
    variables: dict[str, Variable] = field(default_factory=dict)
    enums: dict[str, list[str]] = field(default_factory=dict)


# ------------------------------------------------------------------------------ tokens
_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+)
  | (?P<nl>\n)
  | (?P<lcomment>//[^\n]*)
  | (?P<bcomment>/\*(?:[^*]|\*(?!/))*\*/)
  | (?P<badcomment>/\*)
  | (?P<pp>\#)
  | (?P<num>(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fFuUlL]*)
  | (?P<str>"(?:[^"\\\n]|\\.){0,1048576}")
  | (?P<chr>'(?:[^'\\\n]|\\.){1,8}')
  | (?P<ident>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op>::|->|<<|>>|<=|>=|==|!=|&&|\|\||[{}()\[\];,.=&*+\-/%<>!~?:|^])
  | (?P<bad>.)
""", re.VERBOSE | re.DOTALL)

# A run of number literals separated by commas (and blank space or /* */ comments), right
# after a '{'. Every repetition consumes one literal and one comma, so the match is linear.
_SEP = r"(?:\s|/\*(?:[^*]|\*(?!/))*\*/)*"
_NUMRUN = re.compile(
    r"(?:" + _SEP + r"[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fFuUlL]*"
    + _SEP + r",)*" + _SEP + r"(?:[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"[fFuUlL]*" + _SEP + r")?\}")
_NUMLIT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fFuUlL]*")
_BLOCK_COMMENT = re.compile(r"/\*(?:[^*]|\*(?!/))*\*/")


@dataclass
class Tok:
    kind: str
    text: str
    pos: int
    line: int


def _number(text: str) -> Union[int, float]:
    t = text.rstrip("fFuUlL") if not text.lower().startswith("0x") else text.rstrip("uUlL")
    if t.lower().startswith(("0x", "-0x", "+0x")):
        return int(t, 16)
    if any(c in t for c in ".eE"):
        return float(t)
    if len(t) > 1 and t.startswith("0") and t.isdigit():
        return int(t, 8)
    return int(t)


def _unescape(body: str) -> str:
    if "\\" not in body:
        return body
    out, i = [], 0
    simple = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(simple.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


# ------------------------------------------------------------------------------ parser
class _Parser:
    """Top level: preprocessor lines, declarations, skipped code. Tokens come from one
    regex scan of the text; number runs after '{' are cut out in bulk."""

    def __init__(self, text: str, path: str, defines: Optional[dict[str, str]] = None):
        self.text = text
        self.path = path
        self.pos = 0
        self.line = 1
        self.header = Header(path)
        self.known: dict[str, str] = dict(defines or {})   # macros visible for #if
        self.peeked: list[Tok] = []
        self.pending_comment = ""
        self.at_line_start = True
        self.pp_depth = 0     # taken #if branches not yet closed by #endif

    # -- scanning
    def error(self, msg: str, line: Optional[int] = None) -> HeaderError:
        return HeaderError(f"{self.path}:{line or self.line}: {msg}")

    def _raw(self) -> Optional[Tok]:
        """Next token including comments/newlines (None at end)."""
        if self.pos >= len(self.text):
            return None
        m = _TOKEN.match(self.text, self.pos)
        if m is None:  # only possible for an over-long string literal
            raise self.error("a string literal longer than 1 MiB or not closed on its line")
        kind = m.lastgroup or "bad"
        tok = Tok(kind, m.group(), self.pos, self.line)
        self.pos = m.end()
        if kind == "nl":
            self.line += 1
        elif kind == "bcomment":
            self.line += tok.text.count("\n")
        elif kind == "badcomment":
            raise self.error("unterminated /* comment")
        elif kind == "bad":
            if tok.text == '"':
                raise self.error("unterminated string literal")
            if tok.text == "/" and self.text.startswith("/*", tok.pos):
                raise self.error("unterminated /* comment")
            if tok.text == "'":
                raise self.error("unterminated character literal")
            if tok.text == "\\":  # a line continuation outside a #define
                return Tok("ws", "\\", tok.pos, tok.line)
            raise self.error(f"unexpected character {tok.text!r}")
        return tok

    def next(self) -> Optional[Tok]:
        """Next significant token; handles preprocessor lines, remembers line comments."""
        if self.peeked:
            return self.peeked.pop()
        while True:
            tok = self._raw()
            if tok is None:
                return None
            if tok.kind == "nl":
                self.at_line_start = True
                continue
            if tok.kind == "ws":
                continue
            if tok.kind == "lcomment":
                self.pending_comment = tok.text[2:].strip()
                continue
            if tok.kind == "bcomment":
                continue
            if tok.kind == "pp" and self.at_line_start:
                self._directive(tok)
                continue
            self.at_line_start = False
            return tok

    def push(self, tok: Optional[Tok]) -> None:
        if tok is not None:
            self.peeked.append(tok)

    def peek(self) -> Optional[Tok]:
        t = self.next()
        self.push(t)
        return t

    def expect(self, text: str) -> Tok:
        t = self.next()
        if t is None:
            raise self.error(f"unexpected end of file, expected {text!r}")
        if t.text != text:
            raise self.error(f"expected {text!r}, found {t.text!r}", t.line)
        return t

    # -- preprocessor
    def _directive_line(self) -> str:
        """The rest of a preprocessor line (with \\ continuations), comments removed."""
        parts = []
        while True:
            end = self.text.find("\n", self.pos)
            if end < 0:
                end = len(self.text)
            chunk = self.text[self.pos:end]
            self.pos = end
            if chunk.rstrip().endswith("\\") and end < len(self.text):
                parts.append(chunk.rstrip()[:-1])
                self.pos = end + 1
                self.line += 1
                continue
            parts.append(chunk)
            break
        line = " ".join(parts)
        line = _BLOCK_COMMENT.sub(" ", line)
        cut = line.find("//")
        if cut >= 0 and line.count('"', 0, cut) % 2 == 0:
            line = line[:cut]
        if "/*" in line:  # a block comment opened on a directive line and continued below
            close = self.text.find("*/", self.pos)
            if close < 0:
                raise self.error("unterminated /* comment")
            self.line += self.text.count("\n", self.pos, close)
            self.pos = close + 2
            line = line[:line.find("/*")]
        return line.strip()

    def _directive(self, hash_tok: Tok) -> None:
        line = self._directive_line()
        m = re.match(r"(\w+)\s*(.*)\Z", line, re.DOTALL)
        if not m:
            return
        word, rest = m.group(1), m.group(2).strip()
        if word in ("if", "ifdef", "ifndef"):
            if word == "ifdef":
                take = rest.split()[0] in self.known if rest.split() else False
            elif word == "ifndef":
                take = rest.split()[0] not in self.known if rest.split() else True
            else:
                take = self._pp_eval(rest, hash_tok.line) != 0
            if not take:
                self._skip_conditional(hash_tok.line)
            else:
                self.pp_depth += 1
                if self.pp_depth > MAX_PP_NESTING:
                    raise self.error("#if blocks nested too deeply", hash_tok.line)
                return
            # a false branch was skipped up to its #else/#elif (a taken branch follows,
            # closed by #endif) or up to its #endif
            if self._skipped_to_else:
                self.pp_depth += 1
        elif word in ("elif", "else"):
            # reached the end of a taken branch: skip to the matching #endif
            self._skip_to_endif(hash_tok.line)
            self.pp_depth = max(0, self.pp_depth - 1)
        elif word == "endif":
            self.pp_depth = max(0, self.pp_depth - 1)
        elif word == "define":
            dm = re.match(r"([A-Za-z_]\w*)(\([^)]*\))?\s*(.*)\Z", rest, re.DOTALL)
            if dm and not dm.group(2):
                self.known[dm.group(1)] = dm.group(3).strip()
                self.header.defines[dm.group(1)] = dm.group(3).strip()
        elif word == "undef":
            name = rest.split()[0] if rest.split() else ""
            self.known.pop(name, None)
            self.header.defines.pop(name, None)
        elif word == "error":
            pass  # a branch we took that the SDK reports as unsupported; not our concern

    def _scan_directive_words(self) -> Iterator[tuple[str, str, int]]:
        """Yield (word, rest, line) of the following preprocessor lines, skipping code."""
        while True:
            tok = self._raw()
            if tok is None:
                return
            if tok.kind == "nl":
                self.at_line_start = True
                continue
            if tok.kind in ("ws", "lcomment", "bcomment"):
                continue
            if tok.kind == "pp" and self.at_line_start:
                line_no = tok.line
                line = self._directive_line()
                m = re.match(r"(\w+)\s*(.*)\Z", line, re.DOTALL)
                if m:
                    yield m.group(1), m.group(2).strip(), line_no
                continue
            self.at_line_start = False

    def _skip_conditional(self, start_line: int) -> None:
        """Skip a false branch up to its #elif (if true) / #else / #endif."""
        depth = 0
        self._skipped_to_else = False
        for word, rest, line in self._scan_directive_words():
            if word in ("if", "ifdef", "ifndef"):
                depth += 1
                if depth > MAX_PP_NESTING:
                    raise self.error("#if blocks nested too deeply", line)
            elif word == "endif":
                if depth == 0:
                    return
                depth -= 1
            elif depth == 0 and word == "else":
                self._skipped_to_else = True
                return
            elif depth == 0 and word == "elif":
                if self._pp_eval(rest, line) != 0:
                    self._skipped_to_else = True
                    return
        raise self.error("#if without #endif", start_line)

    def _skip_to_endif(self, start_line: int) -> None:
        depth = 0
        for word, _rest, line in self._scan_directive_words():
            if word in ("if", "ifdef", "ifndef"):
                depth += 1
                if depth > MAX_PP_NESTING:
                    raise self.error("#if blocks nested too deeply", line)
            elif word == "endif":
                if depth == 0:
                    return
                depth -= 1
        raise self.error("#else/#elif without #endif", start_line)

    def _pp_eval(self, expr: str, line: int, depth: int = 0) -> int:
        expr = re.sub(r"defined\s*\(\s*(\w+)\s*\)|defined\s+(\w+)",
                      lambda m: "1" if (m.group(1) or m.group(2)) in self.known else "0", expr)
        try:
            return int(_eval_const(expr, self.known, pp=True))
        except HeaderError:
            return 0

    # -- declarations
    def parse(self) -> Header:
        scope_depth = 0  # namespace / extern "C" braces we are inside of
        while True:
            tok = self.next()
            if tok is None:
                if scope_depth:
                    raise self.error("unexpected end of file inside a namespace/extern block")
                if self.pp_depth:
                    raise self.error("#if without #endif")
                return self.header
            if tok.text == "}" and scope_depth:
                scope_depth -= 1
                continue
            if tok.text == ";":
                continue
            if tok.text == "namespace" or (tok.text == "extern" and self._is_extern_block()):
                # namespace [name] {   /  extern "C" {
                t = self.next()
                while t is not None and t.text not in ("{", ";"):
                    t = self.next()
                if t is not None and t.text == "{":
                    scope_depth += 1
                    if scope_depth > MAX_DEPTH:
                        raise self.error("namespaces nested too deeply")
                continue
            self.push(tok)
            self._statement()

    def _is_extern_block(self) -> bool:
        t = self.next()
        if t is not None and t.kind == "str":
            t2 = self.peek()
            if t2 is not None and t2.text == "{":
                return True
            self.push(t)
            return False
        self.push(t)
        return False

    def _statement(self) -> None:
        """One top-level statement: a declaration with an initializer is recorded; typedef
        structs/enums are recorded; functions and everything else are skipped."""
        words: list[Tok] = []
        start = self.peek()
        start_line = start.line if start else self.line
        depth = 0
        while True:
            tok = self.next()
            if tok is None:
                raise self.error("unexpected end of file in a declaration", start_line)
            t = tok.text
            if depth == 0 and t == ";":
                return
            if depth == 0 and t == "=":
                self.pending_comment = ""
                value = self._value(0)
                self._finish_declaration(words, value, start_line)
                self._skip_to_semicolon(start_line)
                return
            if depth == 0 and t == "{":
                prev = words[-1].text if words else ""
                if prev == ")" or prev in ("const", "override", "noexcept") or \
                        (len(words) >= 2 and words[-2].text == ")"):
                    self._skip_braces(tok)              # a function body
                    return
                if any(w.text in ("struct", "enum", "union", "class") for w in words):
                    self._type_definition(words, tok)
                    return
                if words and words[-1].kind == "ident" or prev == "]":
                    self.push(tok)                      # brace-initialisation without '='
                    value = self._value(0)
                    self._finish_declaration(words, value, start_line)
                    self._skip_to_semicolon(start_line)
                    return
                self._skip_braces(tok)
                return
            if t in ("(", "["):
                depth += 1
                if depth > MAX_DEPTH:
                    raise self.error("brackets nested too deeply", tok.line)
            elif t in (")", "]"):
                depth = max(0, depth - 1)
            words.append(tok)
            if len(words) > 4096:
                raise self.error("a declaration longer than 4096 tokens", start_line)

    def _skip_to_semicolon(self, start_line: int) -> None:
        tok = self.next()
        while tok is not None and tok.text == ",":  # `int a = 1, b = 2;`: later ones ignored
            depth = 0
            while True:
                tok = self.next()
                if tok is None:
                    raise self.error("unexpected end of file in a declaration", start_line)
                if tok.text in "({[":
                    depth += 1
                elif tok.text in ")}]":
                    depth -= 1
                elif depth == 0 and tok.text in (";", ","):
                    break
        if tok is None or tok.text != ";":
            raise self.error(f"expected ';' after the initializer, found "
                             f"{tok.text if tok else 'end of file'!r}", start_line)

    def _skip_braces(self, open_tok: Tok) -> None:
        depth = 1
        while depth:
            tok = self._raw()
            if tok is None:
                raise self.error("unterminated '{' block", open_tok.line)
            if tok.kind == "nl":
                self.at_line_start = True
                continue
            if tok.kind in ("ws", "lcomment", "bcomment"):
                continue
            if tok.kind == "pp" and self.at_line_start:
                self._directive_line()   # directives inside code are not evaluated
                continue
            self.at_line_start = False
            if tok.text == "{":
                depth += 1
            elif tok.text == "}":
                depth -= 1

    def _type_definition(self, words: list[Tok], open_tok: Tok) -> None:
        """``typedef struct {fields} name;``, ``struct name {fields};``, ``enum ... {...}``."""
        kind = next(w.text for w in words if w.text in ("struct", "enum", "union", "class"))
        body: list[list[Tok]] = [[]]
        depth = 1
        while depth:
            tok = self.next()
            if tok is None:
                raise self.error("unterminated struct/enum definition", open_tok.line)
            if tok.text == "{":
                depth += 1
            elif tok.text == "}":
                depth -= 1
                if depth == 0:
                    break
            if depth == 1 and tok.text in (";", ","):
                body.append([])
            elif depth >= 1:
                body[-1].append(tok)
            if depth > MAX_DEPTH:
                raise self.error("struct nested too deeply", tok.line)
        after: list[Tok] = []
        while True:
            tok = self.next()
            if tok is None:
                raise self.error("unterminated struct definition", open_tok.line)
            if tok.text == ";":
                break
            after.append(tok)
        names = [w.text for w in after if w.kind == "ident"]
        tag = [w.text for w in words if w.kind == "ident" and w.text not in
               ("typedef", "struct", "enum", "union", "class", "const")]
        name = names[-1] if names else (tag[-1] if tag else "")
        if kind == "enum":
            self.header.enums[name] = [d[0].text for d in body if d and d[0].kind == "ident"]
            return
        fields = []
        for decl in body:
            idents = [w for w in decl if w.kind == "ident"]
            if not idents or "(" in [w.text for w in decl]:
                continue
            # the declarator: last identifier before any [..]
            bracket = next((i for i, w in enumerate(decl) if w.text == "["), len(decl))
            cands = [w for w in decl[:bracket] if w.kind == "ident"]
            if cands:
                fields.append(cands[-1].text)
        if name:
            self.header.structs[name] = fields

    def _finish_declaration(self, words: list[Tok], value: Value, line: int) -> None:
        # the declared name: the last identifier outside [...] and before any '(' group that
        # is an attribute (ALIGN(16), __attribute__((...)))
        depth = 0
        name_idx = -1
        dims: list[str] = []
        cur_dim: list[str] = []
        for i, w in enumerate(words):
            if w.text in ("(", "["):
                depth += 1
                if w.text == "[" and depth == 1:
                    cur_dim = []
                continue
            if w.text in (")", "]"):
                depth -= 1
                if w.text == "]" and depth == 0:
                    dims.append(" ".join(cur_dim))
                continue
            if depth > 0:
                cur_dim.append(w.text)
                continue
            if w.kind == "ident" and w.text not in ("ALIGN", "__attribute__", "alignas"):
                if not (i + 1 < len(words) and words[i + 1].text == "(" and
                        w.text.isupper()):
                    name_idx = i
                    dims = []
        if name_idx < 0:
            return
        name = words[name_idx].text
        type_words = [w.text for w in words[:name_idx] if w.kind == "ident" or w.text in ("*", "&", "<", ">", ",")]
        self.header.variables[name] = Variable(name, " ".join(type_words), tuple(dims), value,
                                               self.path, line)

    # -- values
    def _value(self, depth: int) -> Value:
        if depth > MAX_DEPTH:
            raise self.error("initializer nested too deeply")
        tok = self.next()
        if tok is None:
            raise self.error("unexpected end of file in an initializer")
        if tok.text == "{":
            return self._init_list(tok, depth + 1)
        self.push(tok)
        return self._expr(depth + 1)

    def _init_list(self, open_tok: Tok, depth: int) -> Union[InitList, NumberArray]:
        if depth > MAX_DEPTH:
            raise self.error("initializer nested too deeply", open_tok.line)
        if not self.peeked:
            m = _NUMRUN.match(self.text, self.pos)
            if m is not None:
                body = self.text[self.pos:m.end() - 1]
                lits = _NUMLIT.findall(_BLOCK_COMMENT.sub(" ", body))
                self.line += body.count("\n")
                self.pos = m.end()
                if len(lits) < 64:   # a small struct/list: keep each literal's own type
                    return InitList([Item(_signed_number(s)) for s in lits])
                return _number_array(lits)
        out = InitList()
        while True:
            tok = self.next()
            if tok is None:
                raise self.error("unterminated initializer list", open_tok.line)
            if tok.text == "}":
                self._attach_comment(out)
                return out
            designator = None
            if tok.text == "." and self.peek() is not None and self.peek().kind == "ident":
                designator = self.next().text  # type: ignore[union-attr]
                self.expect("=")
            elif tok.text == "[":             # [3] = value
                while tok is not None and tok.text != "]":
                    tok = self.next()
                self.expect("=")
            else:
                self.push(tok)
            self._attach_comment(out)
            if tok is not None and tok.text == "{" and designator is None:
                self.next()
                value: Value = self._init_list(tok, depth + 1)
            else:
                value = self._value(depth)
            out.items.append(Item(value, designator))
            sep = self.next()
            if sep is None:
                raise self.error("unterminated initializer list", open_tok.line)
            if sep.text == "}":
                self._attach_comment(out)
                return out
            if sep.text != ",":
                raise self.error(f"expected ',' or '}}' in an initializer list, found "
                                 f"{sep.text!r}", sep.line)
            # a comment after the comma on the same line belongs to this item
            self._trailing_comment(out)

    def _trailing_comment(self, out: InitList) -> None:
        self.pending_comment = ""
        # look at raw text up to the end of the line
        m = re.compile(r"[ \t]*//([^\n]*)").match(self.text, self.pos)
        if m and out.items:
            out.items[-1].comment = m.group(1).strip()
            self.pos = m.end()

    def _attach_comment(self, out: InitList) -> None:
        if self.pending_comment and out.items and not out.items[-1].comment:
            out.items[-1].comment = self.pending_comment
        self.pending_comment = ""

    def _expr(self, depth: int) -> Value:
        """An initializer expression up to ',' '}' ';' or ')' at this level."""
        toks: list[Tok] = []
        level = 0
        while True:
            tok = self.next()
            if tok is None:
                raise self.error("unexpected end of file in an expression")
            if level == 0 and tok.text in (",", "}", ";", ")"):
                self.push(tok)
                break
            if tok.text in ("(", "[", "{"):
                level += 1
                if level > MAX_DEPTH:
                    raise self.error("expression nested too deeply", tok.line)
            elif tok.text in (")", "]", "}"):
                level -= 1
            toks.append(tok)
            if len(toks) > 4096:
                raise self.error("an initializer expression longer than 4096 tokens", tok.line)
        if not toks:
            raise self.error("empty value in an initializer", tok.line)
        return _reduce(toks, self)


def _signed_number(s: str) -> Union[int, float]:
    if s[0] in "+-":
        return -_number(s[1:]) if s[0] == "-" else _number(s[1:])
    return _number(s)


def _number_array(lits: Sequence[str]) -> NumberArray:
    is_float = any(("." in s or "e" in s.lower()) and "x" not in s.lower() for s in lits)
    if is_float:
        arr = np.array([float(s.rstrip("fFuUlL")) for s in lits], dtype=np.float64)
    else:
        vals = [_number(s) if not s.startswith(("-", "+")) else
                (-1 if s[0] == "-" else 1) * int(_number(s[1:])) for s in lits]
        arr = np.array(vals, dtype=np.int64) if vals else np.zeros(0, dtype=np.int64)
    return NumberArray(arr, is_float)


_CASTS = ("const_cast", "static_cast", "reinterpret_cast", "dynamic_cast")
_TYPE_WORDS = {"const", "void", "char", "int", "float", "double", "unsigned", "signed", "long",
               "short", "bool", "struct", "volatile", "size_t", "uint8_t", "int8_t", "uint16_t",
               "int16_t", "uint32_t", "int32_t", "uint64_t", "int64_t", "auto"}


def _reduce(toks: list[Tok], p: _Parser) -> Value:
    """Turn an expression's tokens into a value: a literal, a string (adjacent literals
    concatenated), &symbol, identifier, call, or constant arithmetic; else Expr(text)."""
    # C++ qualified names: `g0::tensor_data1` -> `tensor_data1` (exports put each model's
    # tables in a namespace; names are unique within a file)
    if any(t.text == "::" for t in toks):
        q: list[Tok] = []
        for t in toks:
            if t.text == "::":
                if q and q[-1].kind == "ident":
                    q.pop()
                continue
            q.append(t)
        toks = q
        if not toks:
            raise p.error("empty qualified name")
    # strip C casts: '(' type-words [*] ')' at the front
    while len(toks) >= 3 and toks[0].text == "(":
        close = next((i for i, t in enumerate(toks) if t.text == ")"), -1)
        inner = toks[1:close]
        if close > 0 and inner and all(t.kind == "ident" or t.text in ("*", "&", "[", "]") or
                                       (t.kind == "num" and "[" in [x.text for x in inner])
                                       for t in inner) \
                and (inner[-1].text in ("*", "&") or inner[0].text in _TYPE_WORDS or
                     inner[-1].text.endswith("_t") or
                     any(t.text[0].isupper() for t in inner if t.kind == "ident")) \
                and close + 1 < len(toks) and not (inner[0].text.isupper() and len(inner) == 1 and
                                                   toks[close + 1].text in "+-*/"):
            toks = toks[close + 1:]
        else:
            break
    # C++ casts: xxx_cast<...>(inner)
    if toks and toks[0].text in _CASTS:
        lt = next((i for i, t in enumerate(toks) if t.text == "("), -1)
        if lt > 0 and toks[-1].text == ")":
            return _reduce(toks[lt + 1:-1], p)
    if toks and toks[0].text == "{" and toks[-1].text == "}" and _balanced(toks, "{", "}"):
        # a compound literal `(float[3]) { ... }` whose cast was stripped above
        out, cur, level = InitList(), [], 0
        for t in toks[1:-1]:
            if t.text in "([{":
                level += 1
            elif t.text in ")]}":
                level -= 1
            if level == 0 and t.text == ",":
                if cur:
                    out.items.append(Item(_reduce(cur, p)))
                cur = []
            else:
                cur.append(t)
        if cur:
            out.items.append(Item(_reduce(cur, p)))
        return out
    if all(t.kind == "str" for t in toks):
        s = "".join(_unescape(t.text[1:-1]) for t in toks)
        if len(s) > MAX_STRING:
            raise p.error("a string longer than 1 MiB")
        return s
    if len(toks) == 1:
        t = toks[0]
        if t.kind == "num":
            return _number(t.text)
        if t.kind == "ident":
            if t.text in ("true", "false"):
                return t.text == "true"
            if t.text in ("nullptr", "NULL"):
                return None
            return Ident(t.text)
        if t.kind == "chr":
            return ord(_unescape(t.text[1:-1])[:1] or "\0")
    if len(toks) == 2 and toks[0].text == "&" and toks[1].kind == "ident":
        return AddressOf(toks[1].text)
    if toks[0].text == "(" and toks[-1].text == ")" and _balanced(toks):
        return _reduce(toks[1:-1], p)
    if len(toks) >= 3 and toks[0].kind == "ident" and toks[1].text == "(" and toks[-1].text == ")" \
            and _balanced_from(toks, 1):
        args, cur, level = [], [], 0
        for t in toks[2:-1]:
            if t.text in "([{":
                level += 1
            elif t.text in ")]}":
                level -= 1
            if level == 0 and t.text == ",":
                args.append(_reduce(cur, p) if cur else None)
                cur = []
            else:
                cur.append(t)
        if cur:
            args.append(_reduce(cur, p))
        return Call(toks[0].text, tuple(args))
    text = " ".join(t.text for t in toks)
    try:
        return _eval_const(text, p.known, pp=False)
    except HeaderError:
        return Expr(text, tuple(t.text for t in toks if t.kind == "ident"))


def _balanced(toks: list[Tok], opening: str = "(", closing: str = ")") -> bool:
    """True when the first token's bracket closes at the last token (``(a)(b)`` is not)."""
    level = 0
    for i, t in enumerate(toks):
        if t.text == opening:
            level += 1
        elif t.text == closing:
            level -= 1
            if level == 0 and i != len(toks) - 1:
                return False
    return level == 0


def _balanced_from(toks: list[Tok], start: int) -> bool:
    return _balanced(toks[start:])


# ------------------------------------------------------------------- constant expressions
_EXPR_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)[fFuUlL]*"
                         r"|([A-Za-z_]\w*)|(\|\||&&|==|!=|<=|>=|<<|>>|[-+*/%()<>!~]))")


def _eval_const(text: str, macros: dict[str, str], pp: bool, depth: int = 0) -> Union[int, float]:
    """Evaluate a constant arithmetic/logic expression over number literals and macros.
    Raises HeaderError when it is not one (a name that is no numeric macro, outside #if)."""
    if depth > 16 or len(text) > 10000:
        raise HeaderError("expression too deep or too long")
    toks: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _EXPR_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise HeaderError(f"not a constant expression: {text!r}")
        pos = m.end()
        if m.group(1):
            toks.append(("n", m.group(1)))
        elif m.group(2):
            toks.append(("i", m.group(2)))
        else:
            toks.append(("o", m.group(3)))
        if pos < len(text) and text[pos:].strip() == "":
            break
    if not toks:
        raise HeaderError("empty expression")
    i = 0

    def atom() -> Union[int, float]:
        nonlocal i
        if i >= len(toks):
            raise HeaderError(f"truncated expression {text!r}")
        k, v = toks[i]
        i += 1
        if k == "n":
            return _number(v)
        if k == "i":
            if v in ("true", "false"):
                return int(v == "true")
            if v in macros and macros[v].strip() and macros[v].strip() != v:
                return _eval_const(macros[v], macros, pp, depth + 1)
            if pp:
                return 0
            raise HeaderError(f"{v} is not a numeric constant")
        if v == "(":
            r = binary(0)
            if i >= len(toks) or toks[i][1] != ")":
                raise HeaderError(f"unbalanced parentheses in {text!r}")
            i += 1
            return r
        if v == "-":
            return -atom()
        if v == "+":
            return atom()
        if v == "!":
            return int(not atom())
        if v == "~":
            return ~int(atom())
        raise HeaderError(f"unexpected {v!r} in {text!r}")

    prec = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4,
            "<<": 5, ">>": 5, "+": 6, "-": 6, "*": 7, "/": 7, "%": 7}

    def binary(min_prec: int) -> Union[int, float]:
        nonlocal i
        left = atom()
        while i < len(toks) and toks[i][0] == "o" and prec.get(toks[i][1], 0) > min_prec:
            op = toks[i][1]
            i += 1
            right = binary(prec[op])
            left = _apply(op, left, right)
        return left

    result = binary(0)
    if i != len(toks):
        raise HeaderError(f"not a constant expression: {text!r}")
    return result


def _apply(op: str, a: Union[int, float], b: Union[int, float]) -> Union[int, float]:
    if op in ("<<", ">>") and (abs(int(b)) > 64 or abs(int(a)) > 1 << 64):
        raise HeaderError("shift out of range")
    if op == "*" and abs(a) > 1e300 / max(abs(b), 1):
        raise HeaderError("product out of range")
    if op in ("/", "%") and b == 0:
        raise HeaderError("division by zero")
    if op == "/":
        return int(a / b) if isinstance(a, int) and isinstance(b, int) else a / b
    return {"||": lambda: int(bool(a) or bool(b)), "&&": lambda: int(bool(a) and bool(b)),
            "==": lambda: int(a == b), "!=": lambda: int(a != b), "<": lambda: int(a < b),
            ">": lambda: int(a > b), "<=": lambda: int(a <= b), ">=": lambda: int(a >= b),
            "<<": lambda: int(a) << int(b), ">>": lambda: int(a) >> int(b),
            "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
            "%": lambda: int(a) % int(b)}[op]()


def parse_header(text: str, path: str = "<header>",
                 defines: Optional[dict[str, str]] = None) -> Header:
    """Parse one header/source file's data. ``defines`` are macros of files included before
    it (for ``#if`` and constant expressions)."""
    if "\0" in text[:65536]:
        raise HeaderError(f"{path}: a binary file, not a C header")
    return _Parser(text, path, defines).parse()


def eval_macro(header_defines: dict[str, str], name: str) -> Any:
    """The value of ``#define name ...``: a number, a string, or the text when it is neither."""
    text = header_defines.get(name)
    if text is None:
        return None
    t = text.strip()
    if re.fullmatch(r'"(?:[^"\\]|\\.)*"', t):
        return _unescape(t[1:-1])
    try:
        return _eval_const(t, header_defines, pp=False)
    except HeaderError:
        if re.fullmatch(r"[A-Za-z_]\w*", t) and t in header_defines and t != name:
            return eval_macro(header_defines, t)
        return t
