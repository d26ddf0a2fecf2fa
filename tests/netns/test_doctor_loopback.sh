#!/usr/bin/env bash
# (d) the service listens on 127.0.0.1 only: doctor says so first, whatever the router can do.
source "$(dirname "$0")/doctor_lib.sh"
doctor_setup
topo_plain
PORT=8080
doctor_listen 127.0.0.1 $PORT

doctor_run $PORT
doctor_expect verdict loopback_only
doctor_expect_check listening fail
doctor_expect_text "fix: bind to 0.0.0.0 or use \`porthole tcp $PORT\`"

doctor_run 8081
doctor_expect verdict not_listening
echo "ok: doctor explains a loopback-only service and a missing one"
