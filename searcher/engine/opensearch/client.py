"""Talking to the cluster: one opensearch-py client, credentials, and every failure as one
``SearcherError`` line that names the cluster (its URLs, never the credentials).

- URLs: ``--url`` / ``SEARCHER_OPENSEARCH_URL``, comma-separated nodes
  (``https://a:9200,https://b:9200``). Credentials in a URL are refused: they would show
  in process lists and shell history.
- Credentials: ``SEARCHER_OPENSEARCH_USER`` and ``SEARCHER_OPENSEARCH_PASSWORD``, else the
  netrc entry of the first node's host (``~/.netrc`` or ``$NETRC``), else none.
- TLS: certificates are verified for https (``SEARCHER_OPENSEARCH_CA``: a CA bundle).
- ``SEARCHER_OPENSEARCH_TIMEOUT``: seconds a request may take (default 30).
"""

from __future__ import annotations

import logging
import netrc
import os
from contextlib import contextmanager
from urllib.parse import urlsplit

from searcher.errors import SearcherError

TIMEOUT_S = 30.0
RETRIES = 2  # per request, on another node: a refused connection, a timeout, 502/503/504


def _quiet_loggers() -> None:
    """opensearch-py and urllib3 log every failed request (with a traceback) through
    ``logging``; with no handler configured Python prints warnings to stderr, which would
    turn a one-line error into a screenful. Errors reach the user as ``SearcherError``."""
    for name in ("opensearch", "urllib3"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
        logger.propagate = False


def parse_urls(url: str) -> list[str]:
    """The node URLs of ``--url``; ``SearcherError`` for a malformed one or credentials in it."""
    urls = [u.strip().rstrip("/") for u in url.split(",") if u.strip()]
    if not urls:
        raise SearcherError("no OpenSearch URL given: use --url or SEARCHER_OPENSEARCH_URL")
    for u in urls:
        parts = urlsplit(u)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SearcherError(f"not an OpenSearch URL: {_public(u)!r} (expected http(s)://host:port)")
        if parts.username or parts.password:
            raise SearcherError(
                f"credentials in the URL {_public(u)} are refused: set SEARCHER_OPENSEARCH_USER and "
                "SEARCHER_OPENSEARCH_PASSWORD, or a netrc entry for the host"
            )
    return urls


def _public(url: str) -> str:
    """``url`` without any credentials."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def public_location(url: str) -> str:
    """The URLs as messages show them: without credentials, comma-separated."""
    return ",".join(_public(u.strip().rstrip("/")) for u in url.split(",") if u.strip())


def credentials(urls: list[str]) -> tuple[str, str] | None:
    user = os.environ.get("SEARCHER_OPENSEARCH_USER")
    password = os.environ.get("SEARCHER_OPENSEARCH_PASSWORD")
    if user:
        return user, password or ""
    host = urlsplit(urls[0]).hostname
    try:
        found = netrc.netrc(os.environ.get("NETRC")).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    if not found:
        return None
    login, _, secret = found
    return (login, secret or "") if login else None


def timeout_s() -> float:
    raw = os.environ.get("SEARCHER_OPENSEARCH_TIMEOUT")
    if not raw:
        return TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise SearcherError(f"SEARCHER_OPENSEARCH_TIMEOUT is not a number of seconds: {raw!r}") from None
    if value <= 0:
        raise SearcherError(f"SEARCHER_OPENSEARCH_TIMEOUT must be positive: {raw!r}")
    return value


def connect(urls: list[str], timeout: float | None = None):
    """A client over every node of ``urls`` (a request that fails on one is retried on
    another); opensearch-py is imported here, on first use."""
    try:
        from opensearchpy import OpenSearch
    except ImportError:
        raise SearcherError(
            "the OpenSearch engine needs the opensearch-py package: pip install 'searcher[opensearch]'"
        ) from None
    _quiet_loggers()
    options = dict(
        hosts=urls,
        timeout=timeout or timeout_s(),
        max_retries=RETRIES,
        retry_on_timeout=True,
        retry_on_status=(502, 503, 504),
        http_compress=False,
    )
    auth = credentials(urls)
    if auth is not None:
        options["http_auth"] = auth
    if any(u.startswith("https:") for u in urls):
        options["verify_certs"] = True
        ca = os.environ.get("SEARCHER_OPENSEARCH_CA")
        if ca:
            if not os.path.isfile(ca):
                raise SearcherError(f"SEARCHER_OPENSEARCH_CA: no such file: {ca}")
            options["ca_certs"] = ca
    return OpenSearch(**options)


def _reason(info) -> str:
    """The first reason in an OpenSearch error body, on one line."""
    if isinstance(info, dict):
        error = info.get("error", info)
        if isinstance(error, dict):
            causes = error.get("root_cause") or []
            first = causes[0] if causes and isinstance(causes[0], dict) else error
            kind, reason = first.get("type", ""), first.get("reason", "")
            text = f"{kind}: {reason}" if kind and reason else kind or reason
            if text:
                return " ".join(str(text).split())
        elif error:
            return " ".join(str(error).split())
    return " ".join(str(info).split()) if info else ""


@contextmanager
def translated(where: str, index: str | None = None, timeout: float | None = None):
    """Every failure of the client as one ``SearcherError`` line naming the cluster."""
    from opensearchpy import exceptions as ex

    try:
        yield
    except SearcherError:
        raise
    except ex.ConnectionTimeout:
        raise SearcherError(
            f"the OpenSearch cluster at {where} did not answer within {timeout or timeout_s():g} s "
            "(SEARCHER_OPENSEARCH_TIMEOUT)"
        ) from None
    except ex.SSLError as exc:
        raise SearcherError(f"TLS with the OpenSearch cluster at {where} failed: {_reason(exc.info) or exc.error}") from None
    except ex.ConnectionError as exc:
        cause = str(exc.info or exc.error)
        why = "connection refused" if "refused" in cause.lower() else " ".join(cause.split())[:200]
        raise SearcherError(f"cannot reach the OpenSearch cluster at {where}: {why}") from None
    except ex.AuthenticationException:
        raise SearcherError(
            f"the OpenSearch cluster at {where} refused the credentials (401): set SEARCHER_OPENSEARCH_USER "
            "and SEARCHER_OPENSEARCH_PASSWORD, or a netrc entry for the host"
        ) from None
    except ex.AuthorizationException as exc:
        raise SearcherError(
            f"the OpenSearch cluster at {where} does not allow this user that request (403): {_reason(exc.info)}"
        ) from None
    except ex.NotFoundError as exc:
        if "index_not_found" in str(exc.error) or "index_not_found" in _reason(exc.info):
            raise SearcherError(
                f"no index {index!r} on the OpenSearch cluster at {where}: "
                f"run `searcher --engine opensearch --url {where} --name {index} index` to build it"
            ) from None
        raise SearcherError(f"the OpenSearch cluster at {where} answered 404: {_reason(exc.info)}") from None
    except ex.TransportError as exc:
        status = exc.status_code
        reason = _reason(exc.info) or str(exc.error)
        if status == 400 and ("mapper_parsing" in reason or "strict_dynamic_mapping" in reason or "illegal_argument" in reason):
            raise SearcherError(
                f"the index {index!r} on the OpenSearch cluster at {where} does not take searcher's documents "
                f"(mapping conflict: {reason}): rebuild it with `searcher --engine opensearch … index --rebuild`"
            ) from None
        raise SearcherError(f"the OpenSearch cluster at {where} answered {status}: {reason}") from None
    except ex.OpenSearchException as exc:
        raise SearcherError(f"the OpenSearch cluster at {where} failed: {' '.join(str(exc).split())}") from None
