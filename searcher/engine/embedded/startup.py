"""A faster start for the query path: two things Whoosh imports that searcher never uses.

A cold ``searcher query`` is judged against the bare import of whoosh, click and rich,
so import time counts:

- ``whoosh.reading`` imports the ``cached_property`` package for one attribute
  (``SegmentReader.deleted_docs_set``); that package imports asyncio (~30 ms) to support
  coroutine methods, which Whoosh has none of. ``functools.cached_property`` does the same
  for a plain method.
- ``whoosh.query.terms`` imports ``whoosh.lang.morph_en`` (English inflection tables,
  ~12 ms of regular expressions) for its ``Variations`` query, which searcher never
  builds; here it is imported the first time ``variations`` is called.
- ``whoosh.compat`` imports ``urlretrieve`` from ``urllib.request``, which brings in
  http.client, email, ssl and socket (~40 ms, a sixth of a cold query) for a function
  Whoosh never calls on our path; here the real module is imported the first time
  ``urlretrieve`` is called.

The stand-ins are in ``sys.modules`` only while whoosh's two modules are first imported,
and only for modules not loaded already; nothing else sees them.
"""

from __future__ import annotations

import functools
import sys
import types


def import_whoosh() -> None:
    """Import ``whoosh.reading`` and ``whoosh.query`` without asyncio, morph_en and urllib.request."""
    if "whoosh.reading" in sys.modules and "whoosh.query" in sys.modules:
        return
    stand_ins = {}
    if "cached_property" not in sys.modules:
        module = types.ModuleType("cached_property")
        module.cached_property = functools.cached_property
        stand_ins["cached_property"] = module
    if "whoosh.lang.morph_en" not in sys.modules:
        module = types.ModuleType("whoosh.lang.morph_en")
        module.variations = _variations
        stand_ins["whoosh.lang.morph_en"] = module
    if "urllib.request" not in sys.modules and "whoosh.compat" not in sys.modules:
        module = types.ModuleType("urllib.request")
        module.urlretrieve = _urlretrieve
        stand_ins["urllib.request"] = module
    sys.modules.update(stand_ins)
    try:
        import whoosh.query  # noqa: F401
        import whoosh.reading  # noqa: F401
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _urlretrieve(*args, **kwargs):
    from urllib.request import urlretrieve  # the real module, on first use

    return urlretrieve(*args, **kwargs)


def _variations(word: str):
    from whoosh.lang import morph_en  # the real module, on first use

    return morph_en.variations(word)
