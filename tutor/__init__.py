"""tutor: compute backpropagation by hand, checked exactly.

Importing the package is cheap: SymPy, pydantic and the YAML loader are imported only by
the modules that need them, so ``tutor --help`` stays instant.
"""
__version__ = "0.1.0"
FORMAT_VERSION = 1  # the newest exercise ``format_version`` this program reads
