#!/usr/bin/env python3
"""The stand-in's manage.py: the Django management commands the installer calls (see README.md)."""
import sys

sys.path.insert(0, "/code")
import standin  # noqa: E402

if __name__ == "__main__":
    sys.exit(standin.manage(sys.argv[1:]))
