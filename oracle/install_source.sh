#!/usr/bin/env bash
# Make the handful of kernel source files the oracle needs available and
# print the directory of the (partial) kernel tree on the last stdout line.
#
#   KSRC=/path/to/linux   use an already extracted kernel tree as is
#   KTARBALL=/usr/src/linux-source-X.Y.tar.xz   tarball to extract from
#   KPACKAGE=linux-source-X.Y   Debian package that ships KTARBALL
#
# Exit status: 0 ok, 3 source unavailable (package cannot be installed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
KSRC="${1:-${KSRC:-}}"
KTARBALL="${KTARBALL:-/usr/src/linux-source-6.12.tar.xz}"
KPACKAGE="${KPACKAGE:-linux-source-6.12}"
FILES=(
    Makefile
    mm/percpu.c
    mm/percpu-internal.h
    include/linux/percpu.h
    include/linux/find.h
    include/linux/bitmap.h
    lib/find_bit.c
    lib/bitmap.c
)

if [[ -n "$KSRC" ]]; then
    if [[ ! -f "$KSRC/mm/percpu.c" ]]; then
        echo "install_source: KSRC=$KSRC has no mm/percpu.c" >&2
        exit 3
    fi
    cd "$KSRC" && pwd
    exit 0
fi

prefix="$(basename "$KTARBALL")"
prefix="${prefix%%.tar*}"
dest="$root/build/ksrc"
tree="$dest/$prefix"

have_all=1
for f in "${FILES[@]}"; do
    [[ -f "$tree/$f" ]] || have_all=0
done
if [[ $have_all == 1 ]]; then
    echo "$tree"
    exit 0
fi

if [[ ! -f "$KTARBALL" ]]; then
    echo "install_source: $KTARBALL missing, installing $KPACKAGE" >&2
    if ! { apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$KPACKAGE"; } >&2
    then
        echo "install_source: cannot install $KPACKAGE" >&2
        exit 3
    fi
    if [[ ! -f "$KTARBALL" ]]; then
        echo "install_source: $KPACKAGE did not provide $KTARBALL" >&2
        exit 3
    fi
fi

mkdir -p "$dest"
tmp="$(mktemp -d "$dest/.extract.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
members=()
for f in "${FILES[@]}"; do
    members+=("$prefix/$f")
done
echo "install_source: extracting ${#FILES[@]} files from $KTARBALL" >&2
tar -xJf "$KTARBALL" -C "$tmp" "${members[@]}"
rm -rf "$tree"
mv "$tmp/$prefix" "$tree"
echo "$tree"
