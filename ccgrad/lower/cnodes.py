"""A tiny C AST and its deterministic printer.

Expressions stay strings (op emitters produce them); statements are nodes, so loops, blocks and
checks are built structurally and printed with consistent indentation.  No ccgrad imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class Stmt:
    """A C statement."""

    def lines(self, indent: int) -> list[str]:
        raise NotImplementedError


@dataclass
class Line(Stmt):
    """One line of C (a declaration, an assignment, a call), written without the indent."""

    text: str

    def lines(self, indent: int) -> list[str]:
        return ["    " * indent + self.text]


@dataclass
class Comment(Stmt):
    text: str

    def lines(self, indent: int) -> list[str]:
        return ["    " * indent + f"/* {self.text} */"]


@dataclass
class Block(Stmt):
    """A sequence of statements; `braces` wraps it in { } (a C scope)."""

    body: list[Stmt] = field(default_factory=list)
    braces: bool = False

    def add(self, stmt: Stmt | str) -> None:
        self.body.append(Line(stmt) if isinstance(stmt, str) else stmt)

    def lines(self, indent: int) -> list[str]:
        if not self.braces:
            out: list[str] = []
            for s in self.body:
                out.extend(s.lines(indent))
            return out
        out = ["    " * indent + "{"]
        for s in self.body:
            out.extend(s.lines(indent + 1))
        out.append("    " * indent + "}")
        return out


@dataclass
class For(Stmt):
    """for (int64_t var = start; var < stop; var++) body, optionally preceded by a pragma."""

    var: str
    start: str
    stop: str
    body: Block = field(default_factory=Block)
    pragma: str | None = None
    step: str = "1"

    def lines(self, indent: int) -> list[str]:
        pad = "    " * indent
        out = []
        if self.pragma:
            out.append(f"#pragma {self.pragma}")
        inc = f"{self.var}++" if self.step == "1" else f"{self.var} += {self.step}"
        out.append(f"{pad}for (int64_t {self.var} = {self.start}; {self.var} < {self.stop}; {inc}) {{")
        for s in self.body.body:
            out.extend(s.lines(indent + 1))
        out.append(pad + "}")
        return out


@dataclass
class If(Stmt):
    cond: str
    then: Block = field(default_factory=Block)
    orelse: Block | None = None

    def lines(self, indent: int) -> list[str]:
        pad = "    " * indent
        out = [f"{pad}if ({self.cond}) {{"]
        for s in self.then.body:
            out.extend(s.lines(indent + 1))
        if self.orelse is not None and self.orelse.body:
            out.append(f"{pad}}} else {{")
            for s in self.orelse.body:
                out.extend(s.lines(indent + 1))
        out.append(pad + "}")
        return out


@dataclass
class Function(Stmt):
    """A C function definition."""

    signature: str
    body: Block

    def lines(self, indent: int) -> list[str]:
        out = [self.signature + " {"]
        for s in self.body.body:
            out.extend(s.lines(indent + 1))
        out.append("}")
        return out


def render(stmts: list[Stmt]) -> str:
    """Print statements at top level, one per line, ending with a newline."""
    out: list[str] = []
    for s in stmts:
        out.extend(s.lines(0))
    return "\n".join(out) + "\n"
