"""Tools built on the generator's outputs: schema compatibility (``compat``), wire
tables and VMState equivalents (``explain``), reading records (``decode``) and whole
QEMU migration streams (``stream``)."""
