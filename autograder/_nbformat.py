"""nbformat, imported without building rfc3987-syntax's IRI parsers: `from autograder._nbformat import nbformat`.

jupyter-events installs rfc3987-syntax, and jsonschema (which nbformat imports) imports it when it
is present: three Earley parsers built at import, about 3 s of CPU in every grading process and
every nbgrader command, for an "iri" format that nbformat's schema never uses. It is hidden only
while jsonschema loads; a later `import rfc3987_syntax` works as usual. The kernel that runs a
submission never imports this (it needs no nbformat).
"""
import sys

if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
    sys.modules["rfc3987_syntax"] = None        # makes the import raise ImportError, which jsonschema skips
    try:
        import nbformat
    finally:
        del sys.modules["rfc3987_syntax"]
else:
    import nbformat

__all__ = ["nbformat"]
