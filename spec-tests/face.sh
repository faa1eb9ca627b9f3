#!/bin/sh
# The product face: man pages cover every command and option, bash completion works, contrib/demo
# and bench/ parse.
exec "$(dirname "$0")/pytest-run.sh" face "$@"
