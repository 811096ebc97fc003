#!/usr/bin/env bash
# Installs the Debian packages opkfarm and its tests use, where missing:
# compressors for inner opk archives (xz, bzip2, zstd), ar (binutils) for
# opk files made by other tools, make and a C compiler for the sample builds,
# dpkg, whose version comparison the tests use as an oracle, bubblewrap, the
# build sandbox (lib/build/sandbox.ts), Chromium, which renders the status
# page in its test, the OpenSSH client (`opkfarm upload` runs sftp) and
# server (the upload tests run a real sshd), and libarchive's bsdcat and
# busybox, the gzip readers opkg builds read Packages.gz with (the feed tests
# check they read every member of it).
set -euo pipefail

declare -A package_of=(
  [xz]=xz-utils [bzip2]=bzip2 [zstd]=zstd [ar]=binutils [make]=make [cc]=gcc
  [tar]=tar [gzip]=gzip [dpkg]=dpkg [bwrap]=bubblewrap [chromium]=chromium
  [sftp]=openssh-client [ssh-keygen]=openssh-client [sshd]=openssh-server
  [bsdcat]=libarchive-tools [busybox]=busybox
)

missing=()
for tool in "${!package_of[@]}"; do
  # sshd lives in /usr/sbin, which a user's PATH may lack.
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("${package_of[$tool]}")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system-deps: all tools present"
  exit 0
fi

# Each package once, however many of its tools were missing.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-system-deps: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
