"""The IR (``ir``: frozen dataclasses, no backend imports) and the lowering of the
annotated AST into it (``lower``)."""
