"""vmgen: migration visitors and ASN.1 wire schemas generated from C device structs."""

__version__ = "0.1.0"
