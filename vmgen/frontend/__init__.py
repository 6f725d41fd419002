"""The front end: from a C header or device file to the parsed, annotated AST.

``source`` runs the user's preprocessor and pycparser; ``neutralize`` blanks what
pycparser cannot parse and vmgen does not need (function bodies, initializers);
``slicer`` keeps only the declarations the device states need; ``annotations``,
``cconst`` and ``sidecar`` read the ``[[vmgen::...]]`` attributes, fold constant
expressions and merge an annotations file.
"""
