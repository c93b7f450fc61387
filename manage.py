#!/usr/bin/env python
"""Django's command-line utility for this project."""

import sys

from taiga.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
