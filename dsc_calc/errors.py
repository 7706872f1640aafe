"""The one domain error of dsc-calc.

The core raises :class:`DscCalcError` with the place of the bad value (a field name such as
``stride``, or a path such as ``layers[3].stride``) and what is wrong with it. Callers that know a
better name for the place (the CLI knows ``--stride``, the spec loader knows ``layers[3]``) rename
or prefix it with :meth:`DscCalcError.at` / :meth:`DscCalcError.renamed`. Only the CLI turns the
error into ``Error: ...`` on stderr and an exit code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping


class DscCalcError(ValueError):
    """A bad input value: ``where`` names its place, ``problem`` says what is wrong and the fix."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}" if where else problem)

    def at(self, prefix: str) -> DscCalcError:
        """The same error inside ``prefix``: ``layers[3]`` + ``stride`` -> ``layers[3].stride``."""
        if not self.where:
            return DscCalcError(prefix, self.problem)
        joiner = "" if self.where.startswith("[") else "."
        return DscCalcError(f"{prefix}{joiner}{self.where}", self.problem)

    def renamed(self, names: Mapping[str, str]) -> DscCalcError:
        """The same error with its place renamed through ``names`` (a field -> a CLI option)."""
        return DscCalcError(names.get(self.where, self.where), self.problem)
