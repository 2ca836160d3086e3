"""The one exception type a user can cause; the CLI prints it and exits with status 2."""


class SearcherError(Exception):
    """Bad input, a missing index or corpus: carries a one-line message for the user."""
