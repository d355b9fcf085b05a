"""The line form ``%energy SUBCOMMAND``: sensors, history, last, compare, help."""
from __future__ import annotations

from .errors import InvalidInput


def _positive_int(text: str, what: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} '{text}' is not a whole number: e.g. -n 20") from None
    if value < 1:
        raise InvalidInput(f"{what} must be at least 1, got {value}")
    return value


def run(command: str, rest: list[str], options, shell):
    if command == "sensors":
        from .api import sensor_summary

        print(sensor_summary())
        return None
    if command == "history":
        from .api import history

        return history(limit=_positive_int(options.limit, "history limit"))
    if command == "last":
        from .api import last_report

        report = last_report()
        if report is None:
            raise InvalidInput("nothing measured yet: put %%energy on the first line of a cell")
        return report
    if command == "compare":
        if not rest:
            raise InvalidInput("compare needs measurements: %energy compare LABEL_OR_ID [LABEL_OR_ID ...]")
        from .api import compare

        return compare(*rest)
    print(shell.magics_manager.magics["cell"]["energy"].__doc__)
    return None
