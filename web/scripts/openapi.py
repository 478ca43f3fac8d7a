"""Prints the API's OpenAPI document, from which `npm run api-types` generates src/api/schema.d.ts
(the app's one source of truth for the API's types). Run from web/ with the project's venv."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from api.app import create_app
from ledger.runtime import Runtime

# The document is built from the routes alone; no runtime (chain, database) is touched.
json.dump(create_app(cast(Runtime, None)).openapi(), sys.stdout, indent=1)
