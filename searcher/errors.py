"""The one exception type a user can cause; the CLI prints it and exits with status 2."""


class SearcherError(Exception):
    """Bad input, a missing index or corpus: carries a one-line message for the user."""


class ArticleNotFound(SearcherError):
    """No article with that id in the index."""

    def __init__(self, article_id: str, location: str):
        super().__init__(f"no article {article_id!r} in the index at {location}")
        self.article_id = article_id
