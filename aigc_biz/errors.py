"""One exception hierarchy; the CLI turns each into a single line and an exit code."""

from __future__ import annotations

from aigc_biz.redaction import redact


class AigcBizError(Exception):
    """Base of every error aigc-biz raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
        hint: str | None = None,
    ):
        self.message = message
        self.file = file
        self.column = column
        self.row = row
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``file: column 'x', row 12: message (hint)`` — the whole story in one line, secrets masked."""
        where = []
        if self.file:
            where.append(str(self.file))
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        text = ": ".join([", ".join(where), self.message]) if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return redact(text)


class InputError(AigcBizError):
    """The user's data, options or config are wrong: exit code 2."""

    exit_code = 2


class ConfigError(InputError):
    """A pipeline file or a parameter is wrong (names the step and key)."""


class ModelError(AigcBizError):
    """A model cannot do what was asked (not fitted, too large for memory, schema mismatch)."""

    exit_code = 2


class NotFittedError(ModelError):
    """``recommend``/``save`` called before ``fit``."""


class OutputError(AigcBizError):
    """Writing results failed (read-only target, dropped connection); earlier output is intact."""

    exit_code = 1


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived (the CLI turns them into this): unwinds like Ctrl-C, so temporary
    files are removed and open transactions roll back. A BaseException, so ``except Exception`` in
    library code never swallows it."""

    def __init__(self, signum: int, name: str):
        self.signum = signum
        self.name = name
        super().__init__(f"stopped by {name}")


def unexpected_line(exc: BaseException) -> str:
    """The one line shown for a bug (not an AigcBizError): its type and message, secrets masked."""
    return redact(f"unexpected {type(exc).__name__}: {exc}")
