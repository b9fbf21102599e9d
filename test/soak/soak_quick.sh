#!/usr/bin/env bash
# make check's share of the real-program soak: soak.sh --quick (stress-ng's
# malloc stressor 5 times with a hang detector (checked first), sqlite3 on 100,000 rows,
# ripgrep with 4 threads).  The full soak runs in `make check-long`.
exec bash "$(dirname "$0")/soak.sh" --quick
