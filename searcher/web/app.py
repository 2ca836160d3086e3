"""The web application: server-rendered pages and a JSON API over one index.

Pages (``/``, ``/article/{id}``) work without JavaScript; ``/api/search``,
``/api/articles/{id}``, ``/api/trend`` and ``/api/stats`` answer JSON, described at
``/openapi.json``. Everything is read-only. Bad input is a 400 with ``{"error": …}`` (an
HTML page for pages), an unknown article a 404, and anything unexpected a 500 with a
generic message, its traceback logged to stderr, never sent.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Annotated, Any, Optional
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Path as PathParam, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from searcher import __version__
from searcher.errors import SearcherError
from searcher.errors import ArticleNotFound
from searcher.web.library import Library

log = logging.getLogger("searcher.web")

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 10
MAX_LIMIT = 100  # hits per request
MAX_OFFSET = 10_000  # hits skipped: deeper pages cost more than they are worth
MAX_QUERY = 500  # characters of a query
MAX_GROUP = 10  # paragraphs per article when grouping
GROUP_PAGE = 3  # paragraphs per article for the page's "group by article"
MONTHS_AT_MOST = 36  # the page's timeline goes by year beyond this many months
SNIPPET_AT_MOST = 600  # longer paragraphs are shown as a window around their first match
DATE_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$"
# An article id as the corpus makes them: no spaces, '#', '/', '\\' or control characters.
ID_PATTERN = r"^[^\s#/\\\x00-\x1f\x7f]{1,200}$"
_ID_RE = re.compile(ID_PATTERN)
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


# -- the API's models (for /openapi.json; responses are written directly) --------------


class ErrorBody(BaseModel):
    error: str = Field(description="One line naming what was wrong.")


class ContextParagraph(BaseModel):
    paragraph: int
    text: str


class HitBody(BaseModel):
    """A hit as in `searcher query --json` (``searcher.output.hit_record``)."""

    type: str = Field(description='Always "hit".')
    query: str
    rank: int
    score: float
    article: str
    paragraph: int = Field(description="Paragraph number in its article, from 1.")
    title: str
    date: Optional[str]
    author: Optional[str]
    url: Optional[str]
    text: str = Field(description="The whole paragraph.")
    highlights: list[list[int]] = Field(description="Half-open [start, end) code-point offsets into text.")
    duplicates: Optional[int] = Field(None, description="Identical paragraphs folded into this hit.")
    group: Optional[int] = Field(None, description="With group: the rank of the hit's article.")
    complete: Optional[bool] = Field(None, description="Holds every word of the query (keyword queries).")
    before: Optional[list[ContextParagraph]] = None
    after: Optional[list[ContextParagraph]] = None
    score_lexical: Optional[float] = Field(
        None, description="Hybrid ranking (an index with embeddings): the BM25 side of score (null: not a lexical candidate)."
    )
    score_semantic: Optional[float] = Field(
        None, description="Hybrid ranking: the cosine similarity of the paragraph with the query."
    )


class SearchBody(BaseModel):
    query: str
    total: int = Field(description="Matching paragraphs in all.")
    complete: Optional[int] = Field(
        description="Of those, the paragraphs with every word of the query, ranked first (null for a question)."
    )
    returned: int
    elapsed_ms: float
    suggestion: Optional[str] = Field(description="A corrected query, when this one finds little.")
    ranking: Optional[str] = Field(None, description='"hybrid" when the index has embeddings and they ranked this query.')
    hits: list[HitBody]


class ParagraphBody(BaseModel):
    paragraph: int
    text: str
    highlights: list[list[int]]


class ArticleBody(BaseModel):
    article: str
    title: str
    date: Optional[str]
    author: Optional[str]
    url: Optional[str]
    paragraphs: list[ParagraphBody]


class PeriodBody(BaseModel):
    period: Optional[str] = Field(description="YYYY-MM or YYYY; null for matches in undated articles.")
    paragraphs: int
    articles: int


class StatsBody(BaseModel):
    articles: int
    paragraphs: int
    terms: int
    words: int
    size_bytes: int
    segments: int
    last_update: Optional[float]
    schema_version: int
    semantic: bool = Field(False, description="Whether the index has paragraph embeddings (hybrid ranking).")
    semantic_model: Optional[str] = None
    semantic_vectors: int = 0
    semantic_bytes: int = 0
    semantic_state: Optional[str] = None


# Parameters shared by the API's endpoints.
Q = Annotated[str, Query(min_length=1, max_length=MAX_QUERY, description="A query in searcher's query language.")]
Since = Annotated[Optional[str], Query(pattern=DATE_PATTERN, description="Articles dated on or after (YYYY[-MM[-DD]]).")]
Until = Annotated[Optional[str], Query(pattern=DATE_PATTERN, description="Articles dated on or before (YYYY[-MM[-DD]]).")]
ArticleFilter = Annotated[Optional[str], Query(pattern=ID_PATTERN, description="Only paragraphs of this article id.")]

ERRORS = {400: {"model": ErrorBody, "description": "Bad input"}, 500: {"model": ErrorBody, "description": "Server error"}}
NOT_FOUND = {404: {"model": ErrorBody, "description": "No such article"}}


# -- helpers ----------------------------------------------------------------------------


class BadInput(Exception):
    """A request parameter that cannot be used (the message names it)."""


def check_id(article_id: str) -> str:
    if not _ID_RE.match(article_id) or article_id in (".", ".."):
        raise BadInput(f"bad article id {article_id!r}")
    return article_id


def check_dates(since: str | None, until: str | None) -> None:
    from searcher.trend import check_date

    try:
        check_date(since, "since")
        check_date(until, "until")
    except SearcherError as exc:
        raise BadInput(str(exc)) from None


def segments(text: str, spans) -> list[tuple[str, bool]]:
    """``text`` cut at the highlight spans: ``(piece, highlighted)`` pairs, for templates."""
    out, last = [], 0
    for start, end in spans:
        if start > last:
            out.append((text[last:start], False))
        out.append((text[start:end], True))
        last = end
    if last < len(text):
        out.append((text[last:], False))
    return out


def safe_url(url: str | None) -> str | None:
    """A source URL fit for a link: http(s) only (never ``javascript:`` and the like)."""
    if url and re.match(r"^https?://[^\s]+$", url, re.IGNORECASE):
        return url
    return None


def _blank(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


# -- the application --------------------------------------------------------------------


def create_app(
    index_dir: Path | str, corpus_dir: Path | str | None = None, pool: int | None = None, allowed_hosts=None
) -> "SecurityHeaders":
    """The application (FastAPI, wrapped in ``SecurityHeaders``) over the index at ``index_dir``. ``allowed_hosts``: Host headers
    to accept (``searcher serve`` on loopback passes the loopback names: a page elsewhere
    that rebinds its name to 127.0.0.1 gets nothing); None accepts any."""
    library = Library(index_dir, corpus_dir, size=pool)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined)
    templates = Jinja2Templates(env=env)
    app = FastAPI(
        title="searcher",
        version=__version__,
        description="Full-text search of Vietnamese news articles, paragraph by paragraph (read-only).",
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: not here
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.library = library
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def is_api(request: Request) -> bool:
        return request.url.path == "/api" or request.url.path.startswith("/api/")

    def page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"version": __version__, **context}, status_code=status)

    def error(request: Request, status: int, message: str) -> Response:
        if is_api(request):
            return JSONResponse({"error": message}, status_code=status)
        return page(request, "error.html", status=status, status_code=status, message=message, q="")

    # -- errors: one line for the user, never a traceback ---------------------------------

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError):
        problem = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in problem.get("loc", ())[1:]) or "request"
        return error(request, 400, f"{where}: {problem.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException):
        messages = {404: "not found", 405: "method not allowed"}
        return error(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))

    @app.exception_handler(BadInput)
    async def on_bad_input(request: Request, exc: BadInput):
        return error(request, 400, str(exc))

    @app.exception_handler(ArticleNotFound)
    async def on_not_found(request: Request, exc: ArticleNotFound):
        return error(request, 404, f"no article {exc.article_id!r}")  # not the index's path

    @app.exception_handler(SearcherError)
    async def on_searcher_error(request: Request, exc: SearcherError):
        return error(request, 400, str(exc))

    @app.exception_handler(Exception)
    async def on_anything(request: Request, exc: Exception):
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error(request, 500, "internal error (logged on the server)")

    # -- the JSON API -------------------------------------------------------------------

    @app.get("/api/search", response_model=SearchBody, responses=ERRORS, tags=["api"])
    def api_search(
        q: Q,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
        since: Since = None,
        until: Until = None,
        article: ArticleFilter = None,
        group: Annotated[int, Query(ge=0, le=MAX_GROUP, description="Paragraphs per article; 0: no grouping.")] = 0,
    ):
        """Ranked paragraphs; each hit is a line of `searcher query --json`."""
        from searcher.output import hit_record

        check_dates(since, until)
        results = library.search(q, limit=limit, offset=offset, article=article, since=since, until=until, group=group)
        body = {
            "query": results.query,
            "total": results.total,
            "complete": results.complete,
            "returned": len(results.hits),
            "elapsed_ms": results.elapsed_ms,
            "suggestion": results.suggestion,
            "hits": [hit_record(hit, results.query) for hit in results.hits],
        }
        if results.ranking != "lexical":  # an index with embeddings (the lexical answer is unchanged)
            body["ranking"] = results.ranking
        return JSONResponse(body)

    @app.get("/api/articles/{article_id}", response_model=ArticleBody, responses={**ERRORS, **NOT_FOUND}, tags=["api"])
    def api_article(
        article_id: Annotated[str, PathParam(pattern=ID_PATTERN)],
        q: Annotated[Optional[str], Query(max_length=MAX_QUERY, description="Mark this query's words.")] = None,
    ):
        """One article: metadata and numbered paragraphs (as `searcher show --json`)."""
        article = library.article(check_id(article_id))
        marks = library.marks(q, article.paragraphs) if _blank(q) else [()] * len(article.paragraphs)
        return JSONResponse(
            {
                "article": article.id,
                "title": article.title,
                "date": article.date,
                "author": article.author,
                "url": article.url,
                "paragraphs": [
                    {"paragraph": n, "text": text, "highlights": [list(s) for s in spans]}
                    for n, (text, spans) in enumerate(zip(article.paragraphs, marks), start=1)
                ],
            }
        )

    @app.get("/api/trend", response_model=list[PeriodBody], responses=ERRORS, tags=["api"])
    def api_trend(
        q: Q,
        by: Annotated[str, Query(pattern="^(month|year)$")] = "month",
        since: Since = None,
        until: Until = None,
        article: ArticleFilter = None,
    ):
        """Matching paragraphs and articles per period (as `searcher trend --json`)."""
        check_dates(since, until)
        periods = library.trend(q, by=by, since=since, until=until, article=article)
        return JSONResponse([{"period": p.period, "paragraphs": p.paragraphs, "articles": p.articles} for p in periods])

    @app.get("/api/stats", response_model=StatsBody, responses=ERRORS, tags=["api"])
    def api_stats():
        """Articles, paragraphs, terms, size of the index (as `searcher stats --json`)."""
        from searcher.records import asdict

        return JSONResponse(asdict(library.stats()))

    # -- pages --------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page(
        request: Request,
        q: str = "",
        page_number: Annotated[str, Query(alias="page")] = "1",
        since: str = "",
        until: str = "",
        article: str = "",
        group: str = "",
        by: str = "",
    ):
        form = {"q": q, "since": since, "until": until, "article": article, "group": group, "by": by}
        context: dict[str, Any] = {"form": form, "q": q, "results": None, "error": None, "help": not q.strip()}
        query = q.strip()
        if not query:
            return page(request, "search.html", **context)
        try:
            number = int(page_number)
            if number < 1:
                raise ValueError
            if len(query) > MAX_QUERY:
                raise BadInput(f"the query is longer than {MAX_QUERY} characters")
            since_, until_, article_ = _blank(since), _blank(until), _blank(article)
            check_dates(since_, until_)
            if article_:
                check_id(article_)
            if by and by not in ("month", "year"):
                raise BadInput(f"cannot count by {by!r}: use month or year")
            offset = (number - 1) * PAGE_SIZE
            if offset > MAX_OFFSET:
                raise BadInput(f"page {number} is too deep (at most {MAX_OFFSET // PAGE_SIZE + 1})")
            grouped = GROUP_PAGE if group else 0
            results = library.search(
                query, limit=PAGE_SIZE, offset=offset, article=article_, since=since_, until=until_, group=grouped
            )
            periods = library.trend(query, by=by or "month", since=since_, until=until_, article=article_)
            if not by and sum(1 for p in periods if p.period) > MONTHS_AT_MOST:
                periods = library.trend(query, by="year", since=since_, until=until_, article=article_)
        except ValueError:
            context["error"] = f"page {page_number!r} is not a page number"
            return page(request, "search.html", status=400, **context)
        except (BadInput, SearcherError) as exc:
            context["error"] = str(exc)
            return page(request, "search.html", status=400, **context)
        filters = {k: v for k, v in form.items() if v and k in ("since", "until", "article", "group")}

        def link(**changes) -> str:
            params = {"q": query, **filters, **changes}
            return "/?" + urlencode({k: v for k, v in params.items() if v not in (None, "", 0)})

        def period_link(period: str) -> str:
            return link(since=period, until=period, by="", page="")

        shown = []
        for hit in results.hits:
            long = len(hit.text) > SNIPPET_AT_MOST
            if long:
                from searcher.output import snippet

                window, spans, start = snippet(hit.text, hit.highlights, width=SNIPPET_AT_MOST * 2 // 3)
            else:
                window, spans, start = hit.text, list(hit.highlights), 0
            back = link(page=number if number > 1 else "") + f"#hit-{hit.rank}"
            shown.append(
                {
                    "hit": hit,
                    "pieces": segments(window, spans),
                    "cut_before": start > 0,
                    "cut_after": start + len(window) < len(hit.text),
                    "href": "/article/" + _quote(hit.article) + "?" + urlencode({"q": query, "p": hit.paragraph, "back": back})
                    + f"#p{hit.paragraph}",
                    "only_article": link(article=hit.article, page=""),
                    # Found by meaning alone: nothing in it is marked, and the page says why.
                    "by_meaning": hit.score_semantic is not None and not hit.highlights,
                }
            )
        if grouped:
            more = len({h.article for h in results.hits}) >= PAGE_SIZE
            pages = number + 1 if more else number
        else:
            pages = max(1, math.ceil(min(results.total, MAX_OFFSET + PAGE_SIZE) / PAGE_SIZE))
        from searcher.web.timeline import timeline_svg

        by_shown = "year" if any(p.period and len(p.period) == 4 for p in periods) else "month"
        context.update(
            results=results,
            shown=shown,
            grouped=bool(grouped),
            number=number,
            pages=pages,
            prev_link=link(page=number - 1 if number > 2 else "") if number > 1 else None,
            next_link=link(page=number + 1) if number < pages else None,
            page_links=[(n, link(page=n if n > 1 else "")) for n in _page_window(number, pages)],
            suggestion_link=link(q=results.suggestion, page="") if results.suggestion else None,
            timeline=timeline_svg(periods, period_link, f"Dòng thời gian: {query}"),
            undated=next((p for p in periods if p.period is None), None),
            by_shown=by_shown,
            by_links={"month": link(by="month"), "year": link(by="year")},
            clear_dates=link(since="", until="") if (since_ or until_) else None,
            clear_article=link(article="") if article_ else None,
        )
        return page(request, "search.html", **context)

    @app.get("/article/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    def article_page(request: Request, article_id: str, q: str = "", p: str = "", back: str = ""):
        article = library.article(check_id(article_id))
        query = q.strip()[:MAX_QUERY]
        marks = [()] * len(article.paragraphs)
        if query:
            try:
                marks = library.marks(query, article.paragraphs)
            except SearcherError:
                query = ""  # a query with nothing to mark: show the article plain
        target = int(p) if p.isdigit() else None
        paragraphs = [
            {"number": n, "pieces": segments(text, spans), "marked": bool(spans), "target": n == target}
            for n, (text, spans) in enumerate(zip(article.paragraphs, marks), start=1)
        ]
        # Only a link back into this site's own search page.
        back_link = back if back.startswith("/?") and "\\" not in back else (("/?" + urlencode({"q": query})) if query else None)
        return page(
            request,
            "article.html",
            article=article,
            source=safe_url(article.url),
            paragraphs=paragraphs,
            q=query,
            back_link=back_link,
            marked=sum(1 for x in paragraphs if x["marked"]),
        )

    # -- the contract: 400 (not FastAPI's 422) for bad parameters -------------------------

    def openapi() -> dict:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return SecurityHeaders(app, allowed_hosts)


def _quote(article_id: str) -> str:
    return quote(article_id, safe="")


def _page_window(number: int, pages: int, width: int = 2) -> list[int]:
    """Page numbers to link: the first, the last, and ``width`` around the current one."""
    shown = {1, pages, *range(max(1, number - width), min(pages, number + width) + 1)}
    return sorted(shown)


class SecurityHeaders:
    """ASGI wrapper: security headers on every response, and a Host check."""

    def __init__(self, app: FastAPI, allowed_hosts=None):
        self.app = app
        self.allowed = {h.lower() for h in allowed_hosts} if allowed_hosts else None

    def __getattr__(self, name):  # app.state, app.openapi … of the wrapped application
        return getattr(self.app, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.allowed is not None:
            host = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in self.allowed:
                body = b'{"error": "unexpected Host header"}'
                await send({"type": "http.response.start", "status": 400, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)
