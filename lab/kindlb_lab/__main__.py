"""``python -m kindlb_lab build|up|down|status|env|smoke|load-metallb``."""
from .cli import main

raise SystemExit(main())
