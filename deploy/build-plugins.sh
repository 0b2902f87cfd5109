#!/bin/sh
# build-plugins.sh OUT [ARCH]: builds the two Fluent Bit plugins,
# flb-filter_opsworks.so and in_cloudtrail_s3.so, for linux/ARCH (amd64 or
# arm64; default: this machine's) into OUT, then checks the glibc floor.
#
# The Dockerfile runs it for each platform of a multi-arch build (cgo is
# cross-compiled with Debian's aarch64 toolchain, gcc-aarch64-linux-gnu);
# the tests run it for both architectures.
#
# glibc floor: a shared object needs the newest glibc symbol version it
# references. Fluent Bit runs on Debian 13 (the official image, glibc 2.41)
# and on Amazon Linux 2023 (aws-for-fluent-bit 3.x, glibc 2.34), so the
# plugins must need nothing newer than GLIBC_2.34, whatever glibc built
# them. Go's runtime references pthread_* and dlsym at exactly 2.34 today:
# a toolchain or code change that raises it fails here, at build time,
# instead of at dlopen in a user's Fluent Bit.
set -eu
out=$1
host=$(go env GOARCH)
arch=${2:-$host}
case "$arch" in
"$host") cc=${CC:-gcc} ;;
arm64) cc=aarch64-linux-gnu-gcc ;;
amd64) cc=x86_64-linux-gnu-gcc ;;
*) echo "build-plugins.sh: unsupported architecture $arch (amd64, arm64)" >&2; exit 2 ;;
esac
command -v "$cc" >/dev/null || { echo "build-plugins.sh: $cc not found (Debian: apt-get install gcc-aarch64-linux-gnu)" >&2; exit 2; }
mkdir -p "$out"
for p in opsworks:flb-filter_opsworks cloudtrail_s3:in_cloudtrail_s3; do
    CGO_ENABLED=1 GOOS=linux GOARCH="$arch" CC="$cc" go build -trimpath -buildvcs=false -ldflags="-s -w" \
        -buildmode=c-shared -o "$out/${p#*:}.so" "./plugin/${p%%:*}"
done
rm -f "$out"/*.h
floor=2.34
for so in "$out"/*.so; do
    # readelf reads any architecture's ELF (objdump only its own).
    need=$(readelf -V -W "$so" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
    if [ "$(printf '%s\n%s\n' "$need" "$floor" | sort -V | tail -n 1)" != "$floor" ]; then
        echo "build-plugins.sh: $so needs GLIBC_$need, newer than the floor GLIBC_$floor (aws-for-fluent-bit 3.x, Amazon Linux 2023)" >&2
        exit 1
    fi
    echo "$so: linux/$arch, needs GLIBC_$need (floor $floor)"
done
