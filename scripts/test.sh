#!/bin/bash
# Set-up, then every test tier; ends with the line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec tests/run-all.sh
