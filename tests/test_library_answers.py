"""The library does not hand out an exercise's answer under its name.

Every function a graded solution cell defines (module 01's `predict`, 02's `relu_sum`, 04's
`numerical_jacobian`, 05's `conv_output_size`, ...) is looked for among the public functions of
every public module of `course`. The playgrounds keep their own versions in private modules.
"""
import importlib
import inspect
import pkgutil
import re

import nbformat

import course
from nbgrader_harness import ROOT, nbgrader_meta

# Public library functions that share an exercise's name but not its job, and why.
SAME_NAME_OTHER_JOB = {
    # 04 asks for the order of the notebook's own Node graph; the library's orders Tensors (its
    # engine needs it), and a Node is not a Tensor.
    "topological_order",
}


def graded_function_names():
    names = set()
    for path in sorted(ROOT.glob("solutions/*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and nbgrader_meta(cell).get("solution"):
                names.update(re.findall(r"(?m)^def (\w+)", cell.source))
    return names


def public_functions():
    """(module name, function name) of every public function of every public course module."""
    found = set()
    for info in pkgutil.walk_packages(course.__path__, "course."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if not name.startswith("_") and inspect.isfunction(value):
                found.add((info.name, name))
    return found


def test_the_graded_names_are_found():
    # Guards the test below against finding nothing to look for.
    assert {"predict", "relu_sum", "numerical_jacobian", "conv_output_size"} <= graded_function_names()


def test_no_public_library_function_answers_a_graded_exercise_under_its_name():
    answers = graded_function_names() - SAME_NAME_OTHER_JOB
    exported = sorted(f"{module}.{name}" for module, name in public_functions() if name in answers)
    assert exported == [], f"the library hands out exercise answers: {exported}"


def test_the_playgrounds_former_public_helpers_are_gone():
    import course.autograd.convolution
    import course.gradcheck
    import course.widgets

    for module, name in [(course.widgets, "predict"), (course.widgets, "relu_sum"),
                         (course.autograd.convolution, "output_size"),
                         (course.gradcheck, "numerical_jacobian")]:
        assert not hasattr(module, name), f"{module.__name__}.{name}"
