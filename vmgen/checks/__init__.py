"""Checks on the lowered IR (``rules``) and the one C -> ASN.1 naming rule
(``names``) that the checks enforce and the backends use."""
