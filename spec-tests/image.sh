#!/bin/sh
# The image suite: hoist against a local registry.
exec "$(dirname "$0")/pytest-run.sh" image "$@"
