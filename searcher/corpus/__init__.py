"""The corpus: a folder of article files, the source of truth the index is built from.

``Corpus(path)`` lists it (``files``, ``signature``: cheap, at every query), reads it
(``sources``: every article's bytes and id, or the ``SourceError`` that kept one out) and
changes it (``add``, ``remove``). ``Source.load()`` parses one article into an
``Article``: decoding (``decode``), cleaning and metadata (``clean``), formats
(``formats``). Importing this package stays light: the parser is imported when parsing.
"""

from searcher.corpus.folder import AddReport, Corpus, RemoveReport
from searcher.corpus.listing import ARTICLE_SUFFIXES
from searcher.corpus.model import PARSER_VERSION, Article, content_hash
from searcher.corpus.sources import Source, SourceError

__all__ = [
    "ARTICLE_SUFFIXES",
    "PARSER_VERSION",
    "AddReport",
    "Article",
    "Corpus",
    "RemoveReport",
    "Source",
    "SourceError",
    "content_hash",
]
