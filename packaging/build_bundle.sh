#!/usr/bin/env bash
# Build the one-file roletray executable into dist/ and smoke-test it.
#
#   bash packaging/build_bundle.sh [DISTDIR]
#
# Needs: pip install pyinstaller, and roletray's dependencies (pip install -e '.[gui]').
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dist="${1:-$root/dist}"
work="$root/build/pyinstaller"
python="${PYTHON:-python3}"

if ! ls "$root"/tray/icons/*.png >/dev/null 2>&1; then
  "$python" "$root/icons/make_icons.py"
fi
"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$dist" --workpath "$work" "$root/packaging/roletray.spec"

exe="$dist/roletray"
[ -x "$exe" ] || exe="$dist/roletray.exe"
"$exe" --version
echo "built $exe"
