"""Tools built on the generator's outputs: schema compatibility (``compat``), wire
tables and VMState equivalents (``explain``), and reading records (``decode``)."""
