"""Typed errors. Every error names its culprit (file, row, index, field) so nothing is lost."""

from __future__ import annotations


class SentvecError(Exception):
    """Base class of every error sentvec raises on purpose."""


class ModelNotFoundError(SentvecError, FileNotFoundError):
    """No model folder could be found for a name or path; the message lists what was tried."""


class ModelFormatError(SentvecError, ValueError):
    """A model folder is incomplete or malformed; the message names the file."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class UnknownModuleError(ModelFormatError):
    """``modules.json`` names a module type outside sentvec's closed registry."""


class DataFormatError(SentvecError, ValueError):
    """A data file or record is malformed; the message names file, line (or row) and field."""

    def __init__(self, source: object, line: int | None, problem: str, field: str | None = None) -> None:
        self.source = str(source)
        self.line = line
        self.field = field
        where = self.source if line is None else f"{self.source}, line {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}")


class MissingExtraError(SentvecError, ImportError):
    """An optional dependency is missing; the message gives the exact install command."""

    def __init__(self, extra: str, package: str, feature: str) -> None:
        self.extra = extra
        self.package = package
        super().__init__(
            f"{feature} needs the package {package!r}, which is not installed. "
            f"Install it with: pip install 'sentvec[{extra}]'"
        )
