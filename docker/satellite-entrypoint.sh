#!/bin/sh
# A satellite replica: hold the lowest free satellite id, so `--scale satellite=N` gives each
# replica its own id, key pair and folder, and a restarted or re-created replica takes a free one
# back with its spool; stage its scenes (once); then the camera feed in the background and the
# onboard daemon in the foreground. Both wait for mission control to start the run's clock.
set -eu
if [ -z "${SATEDGE_SATELLITE_ID:-}" ]; then
  exec satedge keys --out "$SATEDGE_SECURITY_KEYS_DIR" --claim "$0" "$@"
fi
dir="/satellites/$SATEDGE_SATELLITE_ID"
satedge mission satellite --dir /satellites
ln -sfn "$dir" /tmp/satellite    # this replica's folder, for the health check
(satedge camera --config "$dir/camera.toml" &)   # orphaned on purpose: the container's init reaps it
exec satedge onboard --config "$dir/onboard.toml"
