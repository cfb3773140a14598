"""Write the config's JSON schema: ``python -m tue_core.schema schemas/config.schema.json``.

The schema is generated from the typed config (:mod:`tue_core.config`), the single source of truth;
a test checks the committed file is current. Editors can use it to complete and check YAML.
"""

from __future__ import annotations

import sys

from tue_core.config import json_schema
from tue_core.io import atomic_write_json, dumps_json


def render() -> str:
    return dumps_json(json_schema())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m tue_core.schema OUTPUT.json\n")
        return 2
    atomic_write_json(args[0], json_schema())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
