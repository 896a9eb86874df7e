"""The one exception type for user mistakes.

The CLI turns a `UserError` into a single line on stderr and exit status 2;
anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A bad argument, file or configuration value: said in one line, never a traceback."""
