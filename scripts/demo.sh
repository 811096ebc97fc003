#!/usr/bin/env bash
# Runs the whole pipeline on the sample source packages in examples/:
# builds the uploads, sends them into the queue root with `opkfarm upload
# --root`, accepts two and rejects one with buildq, runs buildd on both build
# queues, builddd and archived, then shows the archive and the mail.
# Everything lives under ./demo-root (recreated on every run).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD/demo-root"
bin="node $PWD/dist/daemons"

case "$(uname -m)" in
  x86_64) arch=amd64-linux-glibc ;;
  aarch64) arch=arm64-linux-glibc ;;
  armv7l) arch=armhf-linux-gnueabihf ;;
  i?86) arch=i386-linux-glibc ;;
  *) arch="$(uname -m | tr -cd 'a-z0-9')-linux-glibc" ;;
esac

rm -rf "$root" "$root.uploads"
mkdir -p "$root"
sed "s/@ARCH@/$arch/" scripts/demo/opkfarm.conf.in > "$root.conf"
$bin/opkfarm.js init --root "$root" --config "$root.conf" > /dev/null
rm -f "$root.conf"
echo "== queue root $root (native queue builds $arch)"

echo "== uploads"
mkdir -p "$root.uploads"
for example in hello libgreet motd-banner; do
  $bin/opkfarm.js source build "examples/$example" --output "$root.uploads" | sed 's/^/   /'
done
for changes in "$root.uploads"/*.changes; do
  $bin/opkfarm.js upload --root "$root" "$changes" | sed 's/^/   /'
done
rm -rf "$root.uploads"
$bin/buildq.js --root "$root" list

echo "== review"
$bin/buildq.js --root "$root" accept hello 1.0-1 --remarks "Welcome to the archive."
$bin/buildq.js --root "$root" accept libgreet 0.9~rc1-1 --remarks "Release candidate accepted."
$bin/buildq.js --root "$root" reject motd-banner 2.3 --remarks "Please add a Homepage field and upload again."

echo "== builds"
export OPKFARM_ROOT="$root"
$bin/buildd.js --queue native --once 2> "$root/buildd-native.log"
$bin/buildd.js --queue indep --once 2> "$root/buildd-indep.log"
$bin/builddd.js --once 2> "$root/builddd.log"
$bin/archived.js --once 2> "$root/archived.log"
grep -h "event=built\|event=build-failed" "$root"/buildd-*.log | sed 's/^/   /'

echo "== archive"
(cd "$root/archive" && find feeds -name Packages | sort | while read -r index; do
  echo "   $index"
  grep '^Package:\|^Version:\|^Filename:' "$index" | paste - - - | sed 's/^/      /'
done)
echo "   pool: $(find "$root/archive/pool" -name '*.opk' | wc -l) packages under $root/archive/pool"

echo "== mail ($root/outbox)"
for message in "$root"/outbox/*.eml; do
  grep -m1 '^Subject:' "$message" | sed 's/^/   /'
done
echo "== rejected: $(ls "$root/rejected")"
