"""searcher: full-text search for Vietnamese news articles.

``from searcher import Index`` is the library (``searcher.index.Index``); importing the
package itself loads nothing else, so the command line starts fast.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "Index":
        from searcher.index import Index

        return Index
    raise AttributeError(f"module 'searcher' has no attribute {name!r}")
