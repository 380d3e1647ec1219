#!/usr/bin/env bash
# One set-up for every entry point (npm start, npm test, .ci/run): Node >= 22 on PATH,
# the Debian packages the tests and the local stack use, and node_modules matching the lockfile.
# Idempotent and quick when nothing changed. Source it to keep the PATH it sets.
set -euo pipefail
_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_root="$(cd "$_here/.." && pwd)"
# shellcheck source=ensure-node.sh
source "$_here/ensure-node.sh"

# The real parts the tests start: a Samba AD DC (samba, samba-ad-dc, and samba-ad-provision,
# which holds the AD schema but is only a Recommends of samba), its LDAP client tools
# (ldap-utils) and Kerberos client (krb5-user), openssl for test certificates, and Chromium
# for the portal's end-to-end tests (playwright-core drives it; it downloads no browser).
DEBIAN_PACKAGES=(samba samba-ad-dc samba-ad-provision ldap-utils krb5-user openssl chromium)
_missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || _missing+=("$p")
  done
fi
if [ "${#_missing[@]}" -gt 0 ]; then
  _sudo=""
  [ "$(id -u)" -eq 0 ] || _sudo="sudo"
  echo "pbx-ad-sync: installing Debian packages: ${_missing[*]}" >&2
  $_sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -qq --no-install-recommends "${_missing[@]}" >&2
fi

# npm skips dependencies' install scripts unless package.json's allowScripts lets them run;
# none of ours needs one (esbuild, workerd and biome ship their binaries as optional packages).
# `npm install` rather than `npm ci`: the registry we reach serves only this platform's optional
# packages, so the lockfile lists no others and `npm ci` would call it out of sync.
_stamp="$_root/node_modules/.lock-hash"
_want="$(sha256sum "$_root/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$_stamp" ] || [ "$(cat "$_stamp")" != "$_want" ]; then
  echo "pbx-ad-sync: installing npm dependencies" >&2
  (cd "$_root" && npm install --no-audit --no-fund --loglevel=error >&2)
  sha256sum "$_root/package-lock.json" | cut -d' ' -f1 >"$_stamp"
fi
export PATH="$_root/node_modules/.bin:$PATH"
unset _here _root _missing _stamp _want
