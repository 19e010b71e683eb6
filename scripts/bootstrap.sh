# Shared by ./run and ./run-tests: install what is missing, nothing more.
# shellcheck shell=bash

ensure_python_env() {
    local python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "ecoach needs Python 3.11 or newer (found: $("$python" --version 2>&1))" >&2
        exit 1
    fi
    if [ ! -x .venv/bin/python ]; then
        echo "==> creating .venv"
        "$python" -m venv .venv
    fi
    # Reinstall only when the dependency list changed.
    local stamp=.venv/.ecoach-installed want
    want="$(sha256sum pyproject.toml | cut -d' ' -f1)-$1"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "==> installing Python packages into .venv"
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$1]"
        echo "$want" > "$stamp"
    fi
}

# ensure_debian_packages CHECK:PACKAGE ...  (CHECK is a path or command that proves it is there)
ensure_debian_packages() {
    local missing=() pair check package
    for pair in "$@"; do
        check="${pair%%:*}"; package="${pair#*:}"
        if ! compgen -G "$check" >/dev/null && ! command -v "$check" >/dev/null 2>&1; then
            missing+=("$package")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "==> installing Debian packages: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "Please install as root: apt-get install ${missing[*]}" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_node_packages DIR: the npm packages DIR/package-lock.json pins, into DIR/node_modules
# (npm ci), again only when the lockfile changed.
ensure_node_packages() {
    local dir="$1" stamp want
    stamp="$dir/node_modules/.ecoach-installed"
    want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "==> installing npm packages into $dir/node_modules"
        npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
        echo "$want" > "$stamp"
    fi
}
