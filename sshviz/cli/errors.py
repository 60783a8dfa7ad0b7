"""The one error the subcommands raise: reported in one line, with an exit status."""


class CLIError(Exception):
    """A problem to report in one line, with an exit status."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status
