#!/bin/sh
# The runtime suite. RUNTIME=/usr/sbin/runc (or crun) runs it against a peer.
exec "$(dirname "$0")/pytest-run.sh" runtime "$@"
