"""How every benchmark hands back its figures: printed as JSON, and written to ``--json PATH``."""
from __future__ import annotations

import json


def emit(results: dict, path: str | None) -> int:
    print(json.dumps(results, indent=2))
    if path:
        with open(path, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0
