"""Graded answers that hand the asked-for computation to the library, flagged for review.

Several exercises ask students to compute by hand what `course` computes too: a backward pass
that `course.autograd` would derive, finite differences that `course.gradcheck` has, a
convolution that `F.conv2d` does. Such an answer passes the tests, so the score stays; the grader
only flags it, naming the cell and the call, for the instructor to look at.

`TABLE` says, per notebook and solution cell (grade_id), what the cell asks for and which library
names answer it. `flags(notebook, steps)` reads the cells of a grading plan in order (setup cells
and the student's cells: both bring imports into the kernel), resolves every alias (`import
course.nn.functional as G`, `from course.nn import functional`, `conv = F.conv2d`), and reports
each call in a student cell that resolves to a name its cell may not use. The code is parsed,
never run. Library use that a cell does not ask about (a Tensor matmul in a prediction) is
not in the table and never flagged.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

from .magics import translate


@dataclass(frozen=True)
class Rule:
    """What a solution cell asks for, which names answer it, and which of those are fine anyway.

    Names are qualified (`course.nn.functional.conv2d`); a prefix covers everything below it
    (`course.nn` covers `course.nn.Conv2d`). A name without a dot is one the notebook defines
    (`reference_conv2d_forward`). `.backward` stands for calling any object's `backward()`, which
    on a Tensor runs the library's backward pass.
    """

    asks: str
    forbid: tuple[str, ...]
    allow: tuple[str, ...] = ()


LIBRARY = ("course",)
BACKWARD_CALL = ".backward"
HAND_GRADIENT = LIBRARY + (BACKWARD_CALL,)
FUNCTION_BASE = ("course.autograd.Function",)   # a custom Function subclasses it: that is the exercise
# Checking an answer is not computing it: students paste the tests' checkers into their cells.
CHECKERS = ("course.gradcheck.assert_close", "course.gradcheck.check_backward", "course.gradcheck.gradcheck")


def _rules(asks_by_cell: dict[str, str], forbid, allow=()) -> dict[str, Rule]:
    return {cell: Rule(asks, tuple(forbid), tuple(allow)) for cell, asks in asks_by_cell.items()}


TABLE: dict[str, dict[str, Rule]] = {
    # 01 and 02: the library may train the networks and do arithmetic; only the modules behind the
    # playgrounds (and the playgrounds' re-exports) compute what the exercises ask for.
    "01_perceptron": _rules({"predict": "the perceptron's prediction",
                             "train_perceptron": "the perceptron learning rule"},
                            ("course.perceptron", "course.widgets")),
    "02_universal_approximation": _rules({"relu_sum": "the ReLU sum",
                                          "relu_interpolant": "the constructive approximation"},
                                         ("course.relu_sums", "course.widgets")),
    "03_backprop": {
        **_rules({"linear": "the linear layer's backward pass", "relu": "ReLU's backward pass",
                  "sigmoid": "sigmoid and its backward pass", "tanh": "tanh's backward pass",
                  "mse": "the squared loss's gradient",
                  "softmax_ce": "softmax cross-entropy and its gradient"}, HAND_GRADIENT),
        "mlp_backward": Rule("the backward recursion by hand", HAND_GRADIENT + ("autograd_loss_and_grads",)),
        "train_mlp": Rule("the SGD step and loop", ("course.optim", "course.nn", BACKWARD_CALL)),
        "init_weights": Rule("Xavier and He initialisation", ("course.nn", "course.widgets")),
    },
    "04_autograd": {
        "dag_backward": Rule("the DAG's VJPs by hand", HAND_GRADIENT),
        "numerical_jacobian": Rule("central differences", LIBRARY),
        **_rules({"topological_order": "the topological order",
                  "backward": "the backward pass over the graph"}, HAND_GRADIENT),
        **_rules({"multiply": "Multiply's forward and backward", "exp": "Exp's forward and backward",
                  "matmul": "MatMul's forward and backward", "maximum": "Maximum's forward and backward"},
                 HAND_GRADIENT, FUNCTION_BASE),
    },
    "05_cnn": {
        "output_size": Rule("the output-size formula", LIBRARY),
        **_rules({"conv_loops": "the convolution", "conv_forward": "the convolution"},
                 LIBRARY + ("reference_conv2d_forward",)),
        **_rules({"conv_backward_input": "the convolution's input gradient",
                  "conv_backward_weight": "the convolution's weight gradient",
                  "conv_backward_bias": "the convolution's bias gradient"},
                 HAND_GRADIENT + ("reference_conv2d_forward",)),
        # the correlation may be the library's: the exercise is the padding and the flip
        "conv_input_full": Rule("the input gradient as a full convolution",
                                HAND_GRADIENT + ("reference_conv2d_forward", "conv2d_backward_input"),
                                ("course.nn.functional.conv2d", "course.autograd.Tensor")),
        "pool_forward": Rule("max pooling", LIBRARY + ("reference_max_pool_forward",)),
        "pool_backward": Rule("max pooling's backward pass", HAND_GRADIENT + ("reference_max_pool_forward",)),
        "flatten": Rule("flatten and its backward pass", LIBRARY),
        "parameter_table": Rule("the parameter count", LIBRARY),
        "conv_function": Rule("the convolution as a Function, from your functions",
                              HAND_GRADIENT + ("reference_conv2d_forward",), FUNCTION_BASE),
        "pool_function": Rule("max pooling as a Function, from your functions",
                              HAND_GRADIENT + ("reference_max_pool_forward",), FUNCTION_BASE),
    },
}


def _covers(prefix: str, name: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _answers(rule: Rule, qualified: str) -> bool:
    return (any(_covers(p, qualified) for p in rule.forbid if p != BACKWARD_CALL)
            and not any(_covers(p, qualified) for p in rule.allow + CHECKERS))


class _Names:
    """What the names of the kernel's namespace stand for, as far as imports and aliases tell."""

    def __init__(self):
        self.aliases: dict[str, str] = {}

    def qualified(self, node: ast.AST) -> str | None:
        """`F.conv2d` -> "course.nn.functional.conv2d"; a notebook's own name -> itself; else None."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            return f"{base}.{node.attr}" if base else None
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)):
            base = self.qualified(node.args[0])
            return f"{base}.{node.args[1].value}" if base else None
        if isinstance(node, ast.Call) and _dynamic_import(node):
            return node.args[0].value
        return None

    def learn(self, tree: ast.AST) -> None:
        """Take in the imports and aliases of one cell (in source order)."""
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:   # `import course.nn.functional` binds `course`
                        top = alias.name.split(".")[0]
                        self.aliases[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name != "*":
                        self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                target, value = node.targets[0].id, self.qualified(node.value)
                if value and "." in value:
                    self.aliases[target] = value
                else:
                    self.aliases.pop(target, None)

    def forget_local(self, tree: ast.AST) -> None:
        """Names the cell binds itself (functions, parameters, plain assignments) are not aliases."""
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.aliases.pop(node.name, None)
            elif isinstance(node, ast.arg):
                self.aliases.pop(node.arg, None)


def _dynamic_import(call: ast.Call) -> bool:
    """importlib.import_module("course....") or __import__("course...") with a literal name."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return (name in ("import_module", "__import__") and call.args and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str))


def _parse(code: str) -> ast.AST | None:
    try:
        return ast.parse(translate(code)[0])
    except (SyntaxError, ValueError):
        return None


def cell_flags(rule: Rule, cell_id: str, tree: ast.AST, names: _Names) -> list[str]:
    """The calls in one student cell that answer its question with the library."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and any(a.name == "*" for a in node.names) \
                and _answers(rule, node.module):
            found.append(f"imports everything from {node.module}")
        if not isinstance(node, ast.Call):
            continue
        spelled = ast.unparse(node.func)
        qualified = names.qualified(node.func)
        if qualified and _answers(rule, qualified):
            found.append(f"uses {spelled}" + (f" ({qualified})" if qualified != spelled else ""))
        elif (BACKWARD_CALL in rule.forbid and isinstance(node.func, ast.Attribute)
              and node.func.attr == "backward"):
            found.append(f"calls {spelled}() (the library's backward pass)")
    return [f"delegated to the library: {cell_id} ({rule.asks}): {what}" for what in dict.fromkeys(found)]


def flags(notebook: str, steps) -> list[str]:
    """Flags for the student cells of a grading plan that hand their exercise to the library.

    notebook: the source notebook's name (e.g. "05_cnn"); steps: the plan's steps in order, each
    with .kind ("setup" | "student" | "test"), .cell_id (the grade_id) and .code.
    """
    table = TABLE.get(notebook, {})
    if not table:
        return []
    names, found = _Names(), []
    for step in steps:
        if step.kind == "test":
            continue
        tree = _parse(step.code)
        if tree is None:
            continue
        names.learn(tree)
        rule = table.get(step.cell_id) if step.kind == "student" else None
        if rule is not None:
            local = _Names()
            local.aliases = dict(names.aliases)
            local.forget_local(tree)
            found += cell_flags(rule, step.cell_id, tree, local)
    return found
