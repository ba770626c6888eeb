# Shared by scripts/install-pi and scripts/test-bookworm: how storewatch goes into a venv
# over the system's python packages, so the Bookworm test run installs it exactly as a Pi does.
PI_INSTALL_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# pi_install_storewatch SYSTEM_PYTHON VENV SPEC
#   SPEC is what pip installs: the source tree ("/src"), optionally with extras ("/src[x]").
#   The venv sees the system's packages (picamera2, libcamera and simplejpeg exist only
#   there) and keeps the system's numpy, Pillow and simplejpeg: pip installs under
#   constraints that pin them (VENV/system-constraints.txt), and copies the venv holds of
#   its own (an older install) are removed first.
pi_install_storewatch() {
  local system_python="$1" venv="$2" spec="$3"
  local helper="$PI_INSTALL_SCRIPTS/_system_constraints.py"
  local constraints="$venv/system-constraints.txt"
  if [ ! -x "$venv/bin/python" ]; then
    "$system_python" -m venv --system-site-packages "$venv"
  fi
  "$system_python" -I "$helper" >"$constraints"
  local pinned=() shadowing=() line
  while IFS= read -r line; do pinned+=("${line%%==*}"); done <"$constraints"
  if [ "${#pinned[@]}" -gt 0 ]; then
    while IFS= read -r line; do shadowing+=("$line"); done \
      < <("$venv/bin/python" -I "$helper" --shadowed "${pinned[@]}")
  fi
  if [ "${#shadowing[@]}" -gt 0 ]; then
    echo "storewatch: removing the venv's own ${shadowing[*]} so that the system's are used" >&2
    "$venv/bin/python" -m pip uninstall --quiet --yes "${shadowing[@]}"
  fi
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  # The whole of pip's answer goes to a log; on failure its end says why (a pinned numpy or
  # Pillow that a requirement does not accept shows as a conflict naming both).
  local log="$venv/pip-install.log"
  if ! "$venv/bin/python" -m pip install --upgrade --constraint "$constraints" "$spec" >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" | tail -n 25 >&2
    echo "storewatch: pip could not install $spec with the system's $(tr '\n' ' ' <"$constraints")(whole log: $log)" >&2
    return 1
  fi
}

# pi_check_import SYSTEM_PYTHON VENV MODULE
#   0 if MODULE (picamera2) imports in VENV; else says on stderr what failed and what to do
#   (a copy in the venv hiding the system's, or the system's packages broken) and returns 1.
pi_check_import() {
  local system_python="$1" venv="$2" module="$3" error
  error="$("$venv/bin/python" -c "import $module" 2>&1)" && return 0
  echo "storewatch: $module does not load in $venv: $(tail -n 1 <<<"$error")" >&2
  if "$system_python" -c "import $module" >/dev/null 2>&1; then
    echo "storewatch: it loads in $system_python, so a package in the venv hides the system's:" \
         "remove the venv (sudo rm -r $venv) and run the install again." >&2
  else
    echo "storewatch: it does not load in $system_python either: repair the system's packages" \
         "(sudo apt update && sudo apt full-upgrade && sudo apt install --reinstall python3-$module)," \
         "then run the install again." >&2
  fi
  return 1
}

# pi_first_admin_password VENV DATA_DIR [USER]
#   When the appliance has no admin password yet, set a generated one through
#   `storewatch admin set-password` (as USER, so the files stay the service's) and print
#   it; print nothing when one is set already (the owner's own, or an earlier install's).
pi_first_admin_password() {
  local venv="$1" data_dir="$2" user="${3:-}" as=()
  if [ -n "$user" ] && [ "$user" != "$(id -un)" ]; then as=(runuser -u "$user" --); fi
  local has_password='import sys; from storewatch.appliance import Appliance
sys.exit(0 if Appliance(sys.argv[1]).admins.has_password() else 3)'
  local code=0
  (cd / && "${as[@]}" "$venv/bin/python" -c "$has_password" "$data_dir") || code=$?
  [ "$code" -eq 3 ] || return "$code"
  local password
  password="$("$venv/bin/python" -c 'from storewatch.credentials import generate_password; print(generate_password())')"
  printf '%s\n' "$password" \
    | (cd / && "${as[@]}" env STOREWATCH_DATA_DIR="$data_dir" "$venv/bin/storewatch" admin set-password) >/dev/null
  printf '%s\n' "$password"
}

# pi_wait_active UNIT SECONDS OLD_INVOCATION
#   After `systemctl restart --no-block UNIT`: wait until a new start of UNIT (an
#   InvocationID other than OLD_INVOCATION; the old process may still be "active" for a
#   moment) is active. Returns 0 then; else prints the last state and returns 1.
pi_wait_active() {
  local unit="$1" seconds="$2" old="$3" state="" invocation waited
  for ((waited = 0; waited < seconds; waited++)); do
    invocation="$(systemctl show --property=InvocationID --value "$unit" 2>/dev/null || true)"
    state="$(systemctl is-active "$unit" 2>/dev/null || true)"
    if [ "$state" = active ] && [ -n "$invocation" ] && [ "$invocation" != "$old" ]; then return 0; fi
    sleep 1
  done
  echo "${state:-unknown}"
  return 1
}
