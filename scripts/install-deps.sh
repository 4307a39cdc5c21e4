#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/packages/*.txt that are not
# installed yet.  Usage: install-deps.sh [LIST...], where LIST names files
# under scripts/packages without ".txt" (default: all of them).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
lists=("$@")
if [[ ${#lists[@]} -eq 0 ]]; then
  for file in "$here"/packages/*.txt; do lists+=("$(basename "$file" .txt)"); done
fi

wanted=()
for list in "${lists[@]}"; do
  while read -r package _; do
    [[ -z "$package" || "$package" == \#* ]] && continue
    wanted+=("$package")
  done <"$here/packages/$list.txt"
done

missing=()
for package in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
      grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root, or install them with apt-get" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Packages such as postfix start their system service when installed.  The
# tests run their own instances on loopback, so the system ones stay off
# while apt runs: a policy-rc.d that exits with 101 forbids the start.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  added_policy=1
fi
trap '[[ $added_policy -eq 1 ]] && rm -f "$policy"' EXIT

# Answer postfix's configuration question so that apt does not prompt.
if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
  echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
