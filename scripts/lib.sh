# Shared by scripts/serve and scripts/test: a virtualenv with Switchboard in it.
# Sourced, not run.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
# apt_install PKG...: install the Debian packages that are missing.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  echo "installing ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_venv EXTRAS: create .venv with Python 3.11+ and install Switchboard.
ensure_venv() {
  local extras="$1" python
  python=$(command -v python3.11 || command -v python3)
  if ! "$python" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "Switchboard needs Python 3.11 or newer" >&2
    exit 1
  fi
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" 2>/dev/null || {
      apt_install python3-venv
      "$python" -m venv "$venv"
    }
  fi
  # The install is editable, so only the dependency lists and the extras asked
  # for can make it stale: skip it (and its network round trips) when those are
  # what the last install used.
  local stamp="$venv/.switchboard-install" wanted
  wanted="$extras $(cat "$root/pyproject.toml" "$root/constraints.txt" | sha256sum)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    return 0
  fi
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -c "$root/constraints.txt" -e "$root$extras"
  echo "$wanted" > "$stamp"
}
