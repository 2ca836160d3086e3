"""The one exception type a user can cause; the CLI prints it and exits with status 2."""


class SearcherError(Exception):
    """Bad input, a missing index or corpus: carries a one-line message for the user."""


class ArticleNotFound(SearcherError):
    """No article with that id in the index."""

    def __init__(self, article_id: str, location: str):
        super().__init__(f"no article {article_id!r} in the index at {location}")
        self.article_id = article_id


class IndexDamaged(SearcherError):
    """A file of the index is missing or not what its commit wrote; the corpus can rebuild it."""

    def __init__(self, location: str, problem: str):
        super().__init__(f"the index at {location} is damaged ({problem}): run `searcher index --rebuild`")
        self.location = location
        self.problem = problem
