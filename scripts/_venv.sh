# Shared by scripts/run and scripts/test: make .venv and install the package into it.
# On a Pi the venv sees the system's python3-picamera2 (--system-site-packages) and keeps
# the system's numpy, Pillow and simplejpeg, which picamera2 is built against.
ensure_venv() {
  local extras="${1:-}"
  local stamp=".venv/.installed${extras:+-$extras}"
  if [ ! -x .venv/bin/python ]; then
    echo "storewatch: creating the virtual environment in .venv" >&2
    local flags=()
    if python3 -c "import picamera2" 2>/dev/null; then flags+=(--system-site-packages); fi
    python3 -m venv "${flags[@]}" .venv
    if [ "${#flags[@]}" -gt 0 ]; then python3 -I scripts/_system_constraints.py >.venv/system-constraints.txt; fi
  fi
  local constraints=()
  if [ -f .venv/system-constraints.txt ]; then constraints=(--constraint .venv/system-constraints.txt); fi
  if ! _venv_installed "$extras"; then
    echo "storewatch: installing storewatch${extras:+[$extras]} into .venv" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet "${constraints[@]}" -e ".${extras:+[$extras]}"
    touch "$stamp"
  fi
}

# Installed, and since setup.cfg last changed? With no extras any stamp will do: every extra
# installs the base too (scripts/run after scripts/test needs no install, nor the network).
_venv_installed() {
  local stamps=(".venv/.installed-$1") stamp
  if [ -z "$1" ]; then stamps=(.venv/.installed .venv/.installed-*); fi
  for stamp in "${stamps[@]}"; do
    if [ -f "$stamp" ] && [ ! setup.cfg -nt "$stamp" ]; then return 0; fi
  done
  return 1
}
