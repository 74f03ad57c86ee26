"""argyrodb: refined structures, diffraction and literature data for lithium argyrodites (F-43m)."""

__version__ = "0.2.0"
