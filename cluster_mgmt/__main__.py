"""Allow ``python -m cluster_mgmt``."""

from cluster_mgmt.cli import main

main()
