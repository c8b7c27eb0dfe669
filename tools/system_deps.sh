#!/usr/bin/env bash
# Debian packages some test tiers need (one per line in tools/debian-packages.txt).
# As root with apt-get (CI, a fresh container): install what is missing. Otherwise say in
# one line what is missing; the tiers that need it then skip (and fail under CI=true).
set -u
list="$(dirname "$0")/debian-packages.txt"
[ -f "$list" ] || exit 0
missing=()
while read -r pkg; do
  pkg="${pkg%%#*}"; pkg="${pkg// /}"
  [ -n "$pkg" ] || continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < "$list"
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; } \
    || echo "could not install ${missing[*]}: the tiers that need them will skip"
else
  echo "not installed (needs root and apt-get): ${missing[*]}; the tiers that need them will skip"
fi
exit 0
