"""``python -m edge_agent.cli`` runs the ``kassel`` command line."""

import sys

from edge_agent.cli import main

sys.exit(main())
