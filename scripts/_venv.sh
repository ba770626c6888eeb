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
  if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
    echo "storewatch: installing storewatch${extras:+[$extras]} into .venv" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet "${constraints[@]}" -e ".${extras:+[$extras]}"
    touch "$stamp"
  fi
}
