"""Which submissions share code that their authors did not write independently?

Only what a student wrote counts: the code of their solution cells minus the release's template
of that cell (the def lines, docstrings, `return out, cache`). It is normalised first, so that
cosmetic changes do not hide a copy:

- the code is parsed and printed back (`ast.unparse`): formatting, comments, redundant
  parentheses and docstrings drop out;
- every name the student's code binds (parameters, variables, their own functions) becomes `V`;
  the names it only uses (`np`, `range`), attributes and keywords stay;
- each top-level function is a separate token sequence, so the order of functions does not matter.

A submission then is the set of its k-grams: runs of K consecutive tokens, hashed, each tagged
with its cell. A k-gram weighs less the more submissions contain it, weight
log(n / df) / log(n / 2): 1 when two submissions alone share it, 0 when every one has it. So code
the whole class writes the same way is no evidence, and neither is a short line (it has few
k-grams): two students writing the same `return dout * (s > 0)` are not a pair.

Two submissions are a pair when the weight of the k-grams they share is at least MIN_SHARED (in
absolute terms: a few lines of rare code, not a one-liner) and their similarity is at least
SIMILARITY: the shared weight as a fraction of the smaller submission's weight, both less what that
submission shares with a classmate by chance (each k-gram with the probability that another
submission has it), so that students who write the class's usual code everywhere are no pair. Only candidate pairs are scored, never all pairs: those that
share a k-gram at most a few others have (an inverted index), and those whose k-gram sets are alike
as wholes (MinHash with banding), which finds a copy of code made of common pieces too.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import math
import re
from collections import Counter, defaultdict

from .magics import translate

K = 10                 # tokens per k-gram
MIN_SHARED = 40.0      # weight of shared k-grams (about tokens of rare code) a pair needs
SIMILARITY = 0.8       # fraction of the smaller submission's weight beyond chance that must be shared
CELL_SHARE = 0.5       # a cell is named in a pair when this fraction of its weight is shared
BANDS, ROWS = 16, 4    # MinHash: documents alike in all ROWS values of one band are candidates
TOKEN = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\*\*=?|//=?|->|"
                   r"[-+*/%@&|^<>=!:]=|<<|>>|\S")


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _normalise(tree) -> None:
    """Drop docstrings; every name the code binds (assignment and loop targets, parameters,
    functions and classes) becomes V wherever it appears. Imported names stay (`np` is `np`)."""
    nodes = list(ast.walk(tree))
    bound = set()
    for node in nodes:
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
            node.arg, node.annotation = "V", None
        elif isinstance(node, DEFINITIONS):
            bound.add(node.name)
            node.name = "V"
            if not isinstance(node, ast.ClassDef):
                node.returns = None
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
            node.name = "V"
        if isinstance(node, (ast.Module,) + DEFINITIONS):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    for node in nodes:
        if isinstance(node, ast.Name) and node.id in bound:
            node.id = "V"


def canonical_lines(code: str) -> dict[str, list[str]]:
    """The code's normalised lines per top-level function (key: its name; "" for the statements
    outside functions). Code that does not parse is taken line by line, stripped."""
    try:
        tree = ast.parse(translate(code)[0])
    except (SyntaxError, ValueError):
        return {"": [line.strip() for line in code.splitlines() if line.strip() and not line.strip().startswith("#")]}
    keys = [node.name if isinstance(node, DEFINITIONS) else "" for node in tree.body]
    _normalise(tree)
    chunks: dict[str, list[str]] = {}
    for key, node in zip(keys, tree.body):
        chunks.setdefault(key, []).extend(ast.unparse(node).splitlines())
    return chunks


@functools.lru_cache(maxsize=256)
def _template_lines(template: str) -> dict[str, list[str]]:
    return canonical_lines(template) if template.strip() else {}


def own_tokens(code: str, template: str = "") -> list[list[str]]:
    """Token sequences (one per top-level function, one for the rest) of what the student wrote:
    the code's normalised lines minus the lines of the template's function of the same name."""
    template_chunks = _template_lines(template)
    sequences = []
    for key, lines in canonical_lines(code).items():
        given = Counter(template_chunks.get(key, ()))
        tokens = []
        for line in lines:
            if given[line] > 0:
                given[line] -= 1
                continue
            tokens += TOKEN.findall(line)
        if tokens:
            sequences.append(tokens)
    return sequences


def _hash(text: str) -> int:
    """A 64-bit hash that is the same in every run (Python's str hash is not)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little", signed=True)


def fingerprints(cells: dict[str, str], templates: dict[str, str]) -> dict[str, set[int]]:
    """cell -> the hashed k-grams of the student's own code in that cell.

    cells: cell name -> the student's code; templates: cell name -> the release's code of that cell.
    A sequence shorter than K is one k-gram.
    """
    result = {}
    for cell, code in cells.items():
        hashes = set()
        for tokens in own_tokens(code, templates.get(cell, "")):
            for start in range(max(len(tokens) - K + 1, 1)):
                hashes.add(_hash(" ".join(tokens[start:start + K])))
        if hashes:
            result[cell] = hashes
    return result


def _minhash_candidates(names: list[str], whole: dict[str, set]) -> set[tuple[int, int]]:
    """Pairs of documents whose k-gram sets are alike as wholes (MinHash, BANDS bands of ROWS rows):
    a copy of code that many others also wrote, piece by piece, is still the same combination."""
    import numpy as np

    generator = np.random.default_rng(0)
    multipliers = generator.integers(1, 2**63 - 1, size=BANDS * ROWS, dtype=np.uint64) | np.uint64(1)
    offsets = generator.integers(0, 2**63 - 1, size=BANDS * ROWS, dtype=np.uint64)
    buckets = defaultdict(list)
    for index, name in enumerate(names):
        if not whole[name]:
            continue
        hashes = np.fromiter(whole[name], dtype=np.int64, count=len(whole[name])).view(np.uint64)
        with np.errstate(over="ignore"):
            signature = (hashes[:, None] * multipliers + offsets).min(axis=0)   # odd multipliers: a permutation
        for band in range(BANDS):
            buckets[band, signature[band * ROWS:(band + 1) * ROWS].tobytes()].append(index)
    pairs = set()
    for members in buckets.values():
        for i, a in enumerate(members):
            pairs.update((a, b) for b in members[i + 1:])
    return pairs


def similar_pairs(documents: dict[str, dict[str, set[int]]], min_shared: float = MIN_SHARED,
                  threshold: float = SIMILARITY) -> list[dict]:
    """Pairs of documents whose own code is suspiciously similar, most similar first.

    documents: name (a student, or "solution") -> fingerprints(...) of its cells.
    Returns [{"students": [a, b], "similarity": the shared weight as a fraction of the smaller
    document's weight, both less what that document shares with a classmate by chance,
    "shared": the shared weight, "cells": the cells where most of the code is shared}].

    Candidates: pairs that share a k-gram few others have (an inverted index), and pairs whose
    k-gram sets are alike as wholes (MinHash); each candidate is then scored exactly.
    """
    names = sorted(documents)
    n = len(names)
    if n < 2:
        return []
    whole = {name: set().union(*documents[name].values()) if documents[name] else set() for name in names}
    df = Counter(h for name in names for h in whole[name])
    scale = math.log(n / 2) if n > 2 else 1.0
    weights = {h: max(0.0, math.log(n / count) / scale) if n > 2 else 1.0 for h, count in df.items()}
    total = {name: sum(weights[h] for h in whole[name]) for name in names}
    # What a document shares with a classmate by chance alone: each k-gram with the probability
    # that another document has it too. Similarity counts only what is shared beyond that.
    chance = {name: sum(weights[h] * (df[h] - 1) / (n - 1) for h in whole[name]) for name in names}

    ring = max(10, int(math.sqrt(n)))        # k-grams shared by more do not make candidates
    postings = defaultdict(list)
    for index, name in enumerate(names):
        for h in whole[name]:
            if 2 <= df[h] <= ring:
                postings[h].append(index)
    candidates = _minhash_candidates(names, whole)
    for members in postings.values():
        for i, a in enumerate(members):
            candidates.update((a, b) for b in members[i + 1:])

    pairs = []
    for a, b in candidates:
        first, second = names[a], names[b]
        smaller = min((first, second), key=lambda name: total[name])
        if total[smaller] < min_shared:
            continue
        shared = whole[first] & whole[second]
        shared_weight = sum(weights[h] for h in shared)
        beyond_chance = total[smaller] - chance[smaller]
        similarity = (shared_weight - chance[smaller]) / beyond_chance if beyond_chance > 0 else 0.0
        if shared_weight < min_shared or similarity < threshold:
            continue
        pairs.append({"students": [first, second], "similarity": round(min(1.0, similarity), 2),
                      "shared": round(shared_weight, 1),
                      "cells": _shared_cells(documents[first], documents[second], shared, weights)})
    return sorted(pairs, key=lambda p: (-p["similarity"], -p["shared"], p["students"]))


def _shared_cells(first: dict, second: dict, shared: set, weights: dict) -> list[str]:
    cells = []
    for cell in [c for c in first if c in second]:
        own = min(sum(weights[h] for h in first[cell]), sum(weights[h] for h in second[cell]))
        common = sum(weights[h] for h in first[cell] & second[cell] & shared)
        if own > 0 and common >= CELL_SHARE * own:
            cells.append(cell)
    return cells
