"""`python -m langserve_like ...` is the `langserve-like` command."""

from langserve_like.cli import main

raise SystemExit(main())
