#!/bin/sh
# deploybot demo deploy script: pretends to deploy and records every call.
#
#   deploy.sh SERVICE VERSION ENVIRONMENT
#
# deploybot runs it with the argv from the config (never through a shell) and with
# DEPLOYBOT_IDEMPOTENCY_KEY, DEPLOYBOT_FENCING_TOKEN, DEPLOYBOT_SHA, ... in the environment.
# DEPLOYBOT_DEMO_SLEEP_S  seconds to pretend to work (default 1)
# DEPLOYBOT_DEMO_LOG      where each call is recorded (default: deploys.log next to scripts/)
# Replace it with your real deploy: exit 0 on success, anything else on failure.
set -eu

usage="usage: deploy.sh SERVICE VERSION ENVIRONMENT"
service=${1:?$usage}
version=${2:?$usage}
environment=${3:?$usage}
log=${DEPLOYBOT_DEMO_LOG:-$(dirname "$0")/../deploys.log}

echo "deploying $service $version to $environment"
sleep "${DEPLOYBOT_DEMO_SLEEP_S:-1}"
printf '%s deploy %s %s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    "$service" "$version" "$environment" "${DEPLOYBOT_IDEMPOTENCY_KEY:--}" >>"$log"
echo "$service $version is live"
