#!/usr/bin/env bash
# Installs the Debian packages opkfarm and its tests use, where missing:
# compressors for inner opk archives (xz, bzip2, zstd), ar (binutils) for
# opk files made by other tools, make and a C compiler for the sample builds,
# dpkg, whose version comparison the tests use as an oracle, bubblewrap, the
# build sandbox (lib/build/sandbox.ts), and Chromium, which renders the status
# page in its test.
set -euo pipefail

declare -A package_of=(
  [xz]=xz-utils [bzip2]=bzip2 [zstd]=zstd [ar]=binutils [make]=make [cc]=gcc
  [tar]=tar [gzip]=gzip [dpkg]=dpkg [bwrap]=bubblewrap [chromium]=chromium
)

missing=()
for tool in "${!package_of[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${package_of[$tool]}")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system-deps: all tools present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-system-deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
