"""vmgen's Python runtime: what tools and generated modules need at run time."""
