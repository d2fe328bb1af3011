"""Files generated from the code and committed: `openapi.json`, `docs/configuration.md`.

python -m techtribe.generated           # rewrite them (`./dev openapi`, `./dev docs`)
python -m techtribe.generated --check   # exit 1 and name the stale ones (tests, CI)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def openapi_json() -> str:
    """The OpenAPI document as `/openapi.json` serves it, pretty-printed, ending in a newline."""
    from techtribe.app import create_app
    from techtribe.config import Settings

    # Whatever the environment says: the document doesn't depend on settings, and the
    # defaults need nothing running.
    app = create_app(Settings(_env_file=None))
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def configuration_md() -> str:
    from techtribe.config_docs import configuration_md

    return configuration_md()


GENERATORS: dict[str, Callable[[], str]] = {
    "openapi.json": openapi_json,
    "docs/configuration.md": configuration_md,
}


def stale(root: Path = ROOT) -> list[str]:
    """The generated files whose committed text differs from what the code makes now."""
    return [
        name
        for name, make in GENERATORS.items()
        if not (root / name).exists() or (root / name).read_text(encoding="utf-8") != make()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m techtribe.generated", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        outdated = stale()
        for name in outdated:
            print(f"{name} is stale: run ./dev docs", file=sys.stderr)
        return 1 if outdated else 0
    for name, make in GENERATORS.items():
        (ROOT / name).write_text(make(), encoding="utf-8")
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
