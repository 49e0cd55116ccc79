"""daemon"""

import sys

# Two optional imports the daemon never uses, marked unavailable before anything
# imports their parents (both parents catch the ImportError and carry on):
# - httpx imports its command-line client (click, rich, pygments: about 4 MiB of
#   resident memory) whenever those happen to be installed;
# - FastAPI imports pydantic.v1 (about 1.6 MiB, 60 ms) only to refuse v1 models.
for _parent, _optional in (("httpx", "httpx._main"), ("fastapi", "pydantic.v1")):
    if _parent not in sys.modules and _optional not in sys.modules:
        sys.modules[_optional] = None  # type: ignore[assignment]
