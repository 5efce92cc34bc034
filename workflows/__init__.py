"""Prefect orchestration: the flows (flows.py) and the deployments that schedule them (deployments.py).

Imported only by the commands that run flows (`serve`, `demo`), so the plain CLI stays fast.
"""

import os

# Municipal servers often have no way out to the internet: Prefect's server would log a failed
# telemetry call at every start. An operator's own setting wins.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
