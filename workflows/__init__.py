"""Prefect orchestration: the flows (flows.py) and the deployments that schedule them (deployments.py).

Imported only by the commands that run flows (`serve`, `demo`), so the plain CLI stays fast.

Prefect reads its settings once, when it is first imported, so the defaults ideaflow needs are put in
the environment here, before any Prefect module is imported. An operator's own setting wins. The
Prefect servers ideaflow starts (local_server.py) inherit them.
"""

import os

PREFECT_DEFAULTS = {
    # Municipal servers often have no way out to the internet: Prefect's server would log a failed
    # telemetry call at every start.
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # Prefect's temporary server (local mode: the benchmarks) took 15-50 s to start on shared 2-core
    # machines, and Prefect gives it 20 s by default (`ideaflow demo` failed in two of five runs).
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # A municipality's staff data must not reach third parties. Prefect 3.8.8's "v2" UI, the default,
    # starts Amplitude (and fetches its configuration from sr-client-cfg.amplitude.com) whatever
    # PREFECT_SERVER_ANALYTICS_ENABLED says; the classic UI contacts no host but the server.
    "PREFECT_SERVER_UI_V2_ENABLED": "false",
    # No upgrade prompts, and no "join the community" form that posts an address to getform.io.
    "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
}

for _name, _value in PREFECT_DEFAULTS.items():
    os.environ.setdefault(_name, _value)
