"""``searcher serve``: the index in a browser, and a JSON API; a thin layer over the library.

``app.create_app`` builds the FastAPI application (pages, ``/api/…``, ``/openapi.json``);
``server.serve`` runs it on uvicorn; ``library`` holds every call made to the library;
``timeline`` draws a trend as SVG. Nothing here is imported on the ``searcher query`` path.
"""
