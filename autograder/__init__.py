"""The instructor's autograder, built around nbgrader.

One module per job:
- `course_dir`: where a course keeps its notebooks, submissions and gradebook.
- `model`: what the source notebook (solutions/) says is graded, and how.
- `collect`: gather LMS downloads into submitted/<student>/<assignment>/.
- `recover`: read a submission whatever state it is in, and match its cells to the source.
- `sandbox`: start the isolated kernel process that runs one submission.
- `kernel`: the code that runs inside that process (guards, checks, execution).
- `guard`: the defences used inside the kernel (trusted comparisons, value screening, audit).
- `grade`: grade one submission; `batch`: grade a class in parallel, resumably.
- `gradebook`: write scores into nbgrader's gradebook.
- `feedback`, `export`: what goes back to students and out to the LMS.
- `cli`: the `course collect|grade|feedback|export|check` commands.
"""

import sys as _sys


def _import_nbformat_without_iri_parsers() -> None:
    """Import nbformat (and so jsonschema) without building rfc3987-syntax's IRI parsers.

    jupyter-events installs rfc3987-syntax, and jsonschema imports it when present: three Earley
    parsers built at import, about 3 s of CPU in every grading process and every nbgrader command,
    for an "iri" format that nbformat's schema never uses. Hidden only while jsonschema loads; a
    later `import rfc3987_syntax` works as usual.
    """
    if "jsonschema" in _sys.modules or "rfc3987_syntax" in _sys.modules:
        return
    _sys.modules["rfc3987_syntax"] = None        # makes the import raise ImportError, which jsonschema skips
    try:
        import nbformat  # noqa: F401
    finally:
        del _sys.modules["rfc3987_syntax"]


_import_nbformat_without_iri_parsers()
