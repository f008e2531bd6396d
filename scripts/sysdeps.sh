#!/bin/sh
# Install the Debian packages the tests need (given as arguments), only those missing.
# Runs apt-get directly as root, or through passwordless sudo.
set -e
missing=""
for pkg in "$@"; do
  case "$pkg" in
    python3-venv) python3 -c 'import ensurepip' 2>/dev/null || missing="$missing $pkg" ;;
    nghttp2-client) command -v h2load >/dev/null 2>&1 || missing="$missing $pkg" ;;
    chromium) command -v chromium >/dev/null 2>&1 || missing="$missing $pkg" ;;
    postgresql) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing $pkg" ;;
    chromium-driver) command -v chromedriver >/dev/null 2>&1 || missing="$missing $pkg" ;;
    *) command -v "$pkg" >/dev/null 2>&1 || missing="$missing $pkg" ;;
  esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
  echo "sysdeps: need root to install:$missing" >&2; exit 1
fi
echo "sysdeps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
