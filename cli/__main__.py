"""`python -m cli`: the same as the `stellarflow` script (it worked when the CLI was one module; it still does)."""

from cli import main

main()
