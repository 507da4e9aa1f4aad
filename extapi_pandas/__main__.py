"""Allow `python -m extapi_pandas`."""

import sys

from extapi_pandas.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
