#!/bin/sh
# The ground container: the run's CURVE keys (kept if the volume has them), the ground station's
# configuration from the scenario, then the station (its paths and the shared clock come from
# the environment the compose file sets).
set -eu
satedge keys --out "$SATEDGE_SECURITY_KEYS_DIR"
satedge mission ground --out /data/ground.toml
exec satedge ground --config /data/ground.toml
