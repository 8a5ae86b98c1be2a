#!/usr/bin/env bash
# Create a virtual environment with Python >= 3.12 and install improvesim into it.
# Usage: scripts/setup.sh [VENV_DIR]
set -euo pipefail
venv=${1:-.venv}

find_python() {
    for candidate in python3.13 python3.12 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    # pyenv keeps other versions out of PATH; ask it for the newest 3.12+
    if command -v pyenv >/dev/null 2>&1; then
        for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9])' | sort -V -r); do
            exe="$(pyenv root)/versions/$v/bin/python"
            [ -x "$exe" ] && { echo "$exe"; return 0; }
        done
    fi
    return 1
}

python=$(find_python) || { echo "setup: Python 3.12 or newer is needed (Mesa 3.5 requires it)" >&2; exit 1; }
echo "setup: using $python ($("$python" --version))"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e ".[test]"
echo "setup: installed into $venv"

# Browser tests (the plan report, the workshop page) use Debian's chromium,
# headless, driven by Playwright; Playwright's own browser download is never used.
if [ "${IMPROVESIM_SKIP_BROWSER:-0}" != 1 ] && [ ! -x /usr/bin/chromium ]; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "setup: installing Debian's chromium for the browser tests"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "setup: /usr/bin/chromium is missing and cannot be installed here; browser tests will be skipped" >&2
    fi
fi
