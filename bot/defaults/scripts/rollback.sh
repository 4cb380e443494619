#!/bin/sh
# deploybot demo rollback script: pretends to roll back and records every call.
#
#   rollback.sh SERVICE VERSION ENVIRONMENT     (VERSION: the version to go back to)
#
# deploybot runs it with the argv from the config (never through a shell) and with
# DEPLOYBOT_IDEMPOTENCY_KEY, DEPLOYBOT_FENCING_TOKEN, DEPLOYBOT_SHA, ... in the environment.
# DEPLOYBOT_DEMO_SLEEP_S  seconds to pretend to work (default 1)
# DEPLOYBOT_DEMO_LOG      where each call is recorded (default: deploys.log next to scripts/)
# Replace it with your real rollback: exit 0 on success, anything else on failure.
set -eu

usage="usage: rollback.sh SERVICE VERSION ENVIRONMENT"
service=${1:?$usage}
version=${2:?$usage}
environment=${3:?$usage}
log=${DEPLOYBOT_DEMO_LOG:-$(dirname "$0")/../deploys.log}

echo "rolling back $service to $version in $environment"
sleep "${DEPLOYBOT_DEMO_SLEEP_S:-1}"
printf '%s rollback %s %s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    "$service" "$version" "$environment" "${DEPLOYBOT_IDEMPOTENCY_KEY:--}" >>"$log"
echo "$service rolled back to $version"
