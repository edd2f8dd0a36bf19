#!/bin/bash
# Set-up, then boot the default guest (Debian's kernel, a busybox shell) on this terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec scripts/boot-default.sh "$@"
