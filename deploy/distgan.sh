#!/bin/sh
# The image's entry point: `distgan coordinator [flags]` or `distgan worker [flags]`.
set -e
case "${1:-}" in
  coordinator) shift; exec node /app/apps/coordinator/dist/cli.js "$@" ;;
  worker) shift; exec node /app/apps/worker/dist/cli.js "$@" ;;
  sample) shift; exec node /app/apps/coordinator/dist/sample-cli.js "$@" ;;
  *)
    echo "usage: distgan coordinator|worker|sample [flags]   (each takes --help)" >&2
    [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]
    ;;
esac
