"""IPython syntax in a graded cell, turned into the Python that nbgrader's run of the cell amounts to.

nbgrader executes notebooks in IPython, so `%%time`, `%timeit`, `%matplotlib inline` or `!pip`
in a submission work there. Our kernel runs plain Python; `translate(code)` returns the cell as
Python plus notes (for the instructor) on whatever could not be run as IPython would run it:

- `%%time`, `%%timeit`, `%%prun`, `%%debug` and `%time`, `%timeit`, `%prun`: the code runs once,
  untimed (`%%timeit`'s setup statement on the magic's line runs first);
- `%%capture`: the cell runs with its output thrown away;
- `%%writefile NAME` (`-a` appends): the file is written;
- `%matplotlib`, `%load_ext`, `%pip`, `!pip install ...` and other set-up magics: nothing to do;
- `%env NAME=value` sets the variable;
- shell commands, `%%bash` and other non-Python cell magics: not run, with a note;
- any other cell magic: its body runs as plain Python when it is Python (with a note), else not
  run (with a note); any other line magic: not run (with a note).

A cell is never dropped without a note, and line numbers stay those of the cell as written.
Only lines that start a statement are read as IPython syntax: a `%` or `!` inside a string or a
bracket continues Python code.
"""
from __future__ import annotations

import ast
import re

RUN_CELL = {"time", "timeit", "prun", "debug"}
NOT_PYTHON_CELL = {"bash", "sh", "script", "sx", "system", "perl", "ruby", "python", "python2",
                   "python3", "pypy", "html", "HTML", "javascript", "js", "latex", "markdown", "svg"}
RUN_LINE = {"time", "timeit", "prun", "debug"}
OPTIONS_WITH_VALUE = {"timeit": "nrp", "prun": "DlsT"}   # options of these magics that take a value
NO_OP_LINE = {"matplotlib", "config", "load_ext", "reload_ext", "unload_ext", "autoreload",
              "aimport", "pip", "conda", "mamba", "xmode", "pdb", "who", "whos", "who_ls",
              "lsmagic", "pwd", "history", "precision", "pprint", "colors", "automagic", "magic"}
INSTALL = re.compile(r"^(?:pip3?|conda|mamba|uv\s+pip|python3?\s+-m\s+pip)\b")
LINE_MAGIC = re.compile(r"^(?P<indent>\s*)(?:(?P<target>[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*)?"
                        r"(?P<escape>%%?|!!?)(?P<rest>.*)$")
HELP = re.compile(r"^\s*(?:\?+[A-Za-z_][\w.]*\??|[A-Za-z_][\w.]*\?+)\s*$")
ENV = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*(?:=\s*|\s+)(?P<value>.*)$")


def translate(code: str) -> tuple[str, list[str]]:
    """(the cell as plain Python, notes on what was not run as IPython runs it)."""
    notes: list[str] = []
    lines = code.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].lstrip().startswith("%%"):
        return "\n".join(line for line, _ in _translate_lines(lines, 1, notes)), notes
    name, _, args = lines[first].strip()[2:].partition(" ")
    magic = f"%%{name}"
    body = lines[first + 1:]
    before = [""] * first          # blank lines keep every line where the student wrote it
    if name in NOT_PYTHON_CELL:
        return "", [f"the {magic} cell was not run while grading"]
    if name in ("writefile", "file"):
        return _writefile(args, body, magic)
    translated = _translate_lines(body, first + 2, notes)
    if name == "capture":
        silenced = ["with __import__('contextlib').redirect_stdout(__import__('io').StringIO()), "
                    "__import__('contextlib').redirect_stderr(__import__('io').StringIO()):"]
        silenced += ["    " + line if starts and line.strip() else line for line, starts in translated]
        return "\n".join(before + silenced + ["    pass"]), notes
    header = _statement(name, args) if name == "timeit" else ""
    python = "\n".join(before + [header] + [line for line, _ in translated])
    if name in RUN_CELL:
        return python, notes
    try:
        ast.parse(python)
    except SyntaxError:
        return "", notes + [f"the {magic} cell was not run while grading: {magic} is IPython's, "
                            "and the cell is not Python"]
    return python, notes + [f"{magic} is not available while grading: its cell ran as plain Python"]


def _writefile(args: str, body: list[str], magic: str) -> tuple[str, list[str]]:
    words = args.split()
    mode = "a" if "-a" in words or "--append" in words else "w"
    names = [w for w in words if not w.startswith("-")]
    if len(names) != 1:
        return "", [f"the {magic} cell was not run: it names no single file ({args.strip()!r})"]
    text = "\n".join(body)
    if not text.endswith("\n"):
        text += "\n"
    return (f"with open({names[0]!r}, {mode!r}, encoding='utf-8') as __writefile__:\n"
            f"    __writefile__.write({text!r})"), []


def _translate_lines(lines: list[str], first_number: int, notes: list[str]) -> list[tuple[str, bool]]:
    """Each line as Python, with whether it starts a statement (not inside a string or brackets)."""
    out = []
    quote, depth, continued = None, 0, False
    for number, line in enumerate(lines, first_number):
        starts = quote is None and depth == 0 and not continued
        if starts:
            line = _line(line, number, notes)
        quote, depth, continued = _scan(line, quote, depth)
        out.append((line, starts))
    return out


def _line(line: str, number: int, notes: list[str]) -> str:
    """One line that starts a statement, as Python."""
    if HELP.match(line):
        return _blank(line) + "pass"
    match = LINE_MAGIC.match(line)
    if match is None:
        return line
    indent, target, escape, rest = match["indent"], match["target"], match["escape"], match["rest"].strip()
    assign = f"{target} = " if target else ""
    if escape.startswith("!"):
        if not INSTALL.match(rest):
            notes.append(f"line {number}: the shell command `!{_short(rest)}` was not run while grading")
        return indent + (assign + "[]" if target else "pass")
    name, _, args = rest.partition(" ")
    if escape == "%" and name in RUN_LINE:
        statement = _statement(name, args)
        if statement:
            return indent + assign + statement
        return indent + (assign + "None" if target else "pass")
    if escape == "%" and name == "env" and not target:
        env = ENV.match(args.strip())
        if env:
            return indent + f"__import__('os').environ[{env['name']!r}] = {env['value']!r}"
        return indent + "pass"
    if escape == "%" and name in NO_OP_LINE:
        return indent + (assign + "None" if target else "pass")
    where = "a cell magic in the middle of a cell" if escape == "%%" else "IPython's"
    notes.append(f"line {number}: `{escape}{_short(rest)}` was not run while grading ({where})")
    return indent + (assign + "None" if target else "pass")


def _statement(name: str, args: str) -> str:
    """The Python statement after a timing magic's options (`%timeit -n 10 -r 3 f(x)` -> `f(x)`)."""
    takes_value = OPTIONS_WITH_VALUE.get(name)
    rest = args.strip()
    while takes_value is not None and rest.startswith("-"):
        option, _, rest = rest.partition(" ")
        rest = rest.lstrip()
        if len(option) == 2 and option[1] in takes_value:   # `-n 10`; `-n10` carries its value
            _, _, rest = rest.partition(" ")
            rest = rest.lstrip()
    return rest


def _scan(line: str, quote: str | None, depth: int) -> tuple[str | None, int, bool]:
    """Python's state after a line: the open string's quote, bracket depth, backslash continuation."""
    i, n = 0, len(line)
    while i < n:
        char = line[i]
        if quote is not None:
            if char == "\\":
                i += 2
            elif line.startswith(quote, i):
                i += len(quote)
                quote = None
            else:
                i += 1
            continue
        if char == "#":
            return None, depth, False
        if char in "'\"":
            quote = char * 3 if line.startswith(char * 3, i) else char
            i += len(quote)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        i += 1
    ends_with_backslash = line.endswith("\\")
    if quote is not None and len(quote) == 1:      # a one-quote string goes on only after a backslash
        return (quote if ends_with_backslash else None), depth, False
    return quote, depth, quote is None and ends_with_backslash


def _blank(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
