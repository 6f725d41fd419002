"""Running the stages: the pure pipeline (``pipeline``), a second process for large
inputs (``parallel``), atomic writes (``output``) and make-style depfiles
(``depfile``)."""
