#!/usr/bin/env bash
# Install the Debian packages the test suite needs that pip cannot provide:
#   - a PostgreSQL server (the tests start their own private instance with
#     initdb/pg_ctl from /usr/lib/postgresql/<version>/bin),
#   - Chromium and its WebDriver (Playwright drives /usr/bin/chromium; its own
#     browser download is not available here),
#   - fonts, so screenshots render text,
#   - wrk, the HTTP load generator of bench/bench_http.py (`make bench`),
#   - Node.js/npm, only when `npm` is missing.
#
# Idempotent and fast: when nothing is missing it changes nothing and does not
# run `apt-get update`. Uses sudo only when not root and sudo exists. When it
# cannot install, it prints exactly what is missing and exits non-zero.
#
# Usage: scripts/install-system-deps.sh [--check]
#   --check   only report what is missing (exit 1 if anything is)
set -euo pipefail

check_only=0
case "${1:-}" in
    --check) check_only=1 ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

log() { echo "install-system-deps: $*" >&2; }

package_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

postgres_bin_dir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] \
            && [ -x "$dir/psql" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

# Prints "package<TAB>reason" for every missing item.
missing_items() {
    postgres_bin_dir >/dev/null \
        || printf 'postgresql\tno /usr/lib/postgresql/*/bin with initdb, pg_ctl, postgres and psql\n'
    [ -x /usr/bin/chromium ] || printf 'chromium\t/usr/bin/chromium not found\n'
    [ -x /usr/bin/chromedriver ] || printf 'chromium-driver\t/usr/bin/chromedriver not found\n'
    package_installed fonts-dejavu-core || printf 'fonts-dejavu-core\tfonts for screenshots\n'
    command -v wrk >/dev/null 2>&1 || printf 'wrk\tthe load generator of bench/bench_http.py\n'
    if ! command -v npm >/dev/null 2>&1; then
        command -v node >/dev/null 2>&1 || printf 'nodejs\tnode not found\n'
        printf 'npm\tnpm not found\n'
    fi
}

report() {
    log "missing:"
    printf '%s\n' "$1" | while IFS=$'\t' read -r pkg why; do
        echo "  - $pkg ($why)" >&2
    done
}

missing="$(missing_items)"
if [ -z "$missing" ]; then
    log "all system dependencies present (postgres: $(postgres_bin_dir))"
    exit 0
fi

packages="$(printf '%s\n' "$missing" | cut -f1 | tr '\n' ' ')"
if [ "$check_only" = 1 ]; then
    report "$missing"
    exit 1
fi

if [ "$(id -u)" = 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    # Never hang waiting for a password when nobody can type it (CI has no stdin).
    if [ -t 0 ]; then as_root=(sudo); else as_root=(sudo -n); fi
else
    report "$missing"
    log "not root and sudo is not available; install as root with:"
    echo "  apt-get update && apt-get install -y --no-install-recommends $packages" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    report "$missing"
    log "apt-get not found: install the packages above with your system's package manager"
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# The tests run their own private PostgreSQL instance: do not let the package
# create (and start) the default cluster on port 5432.
if printf '%s\n' "$missing" | grep -q '^postgresql'; then
    "${as_root[@]}" mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" \
        | "${as_root[@]}" tee /etc/postgresql-common/createcluster.d/50-no-main-cluster.conf \
            >/dev/null
fi

log "installing: $packages"
# shellcheck disable=SC2086 # word splitting of $packages is intended
if ! { "${as_root[@]}" apt-get update -qq \
        && "${as_root[@]}" apt-get install -y -qq --no-install-recommends $packages; }; then
    log "apt-get failed"
fi

still_missing="$(missing_items)"
if [ -n "$still_missing" ]; then
    report "$still_missing"
    exit 1
fi
log "done (postgres: $(postgres_bin_dir))"
