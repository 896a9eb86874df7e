#!/bin/sh
# A satellite container: claim a satellite id (so `--scale satellite=N` gives each
# replica its own id and key), prepare the scenario's reference mosaic, then run
# the camera feed in the background and the onboard daemon in the foreground.
set -eu
export SATEDGE_SATELLITE_ID="$(satedge keys --out "${SATEDGE_SECURITY_KEYS_DIR}" --claim "$(hostname)")"
echo "satellite id: ${SATEDGE_SATELLITE_ID}"
satedge camera --prepare
satedge camera &
exec satedge onboard
