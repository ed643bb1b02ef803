#!/bin/sh
# on-small-disk.sh SIZE DIR COMMAND: runs the shell COMMAND with a tmpfs of
# SIZE (e.g. 640k) mounted at DIR, in new user and mount namespaces (no root
# needed; lit's feature user-mount-namespaces says they are allowed). The
# mount goes away with COMMAND, so COMMAND checks what it needs to.
set -e
size=$1 dir=$2
shift 2
mkdir -p "$dir"
exec unshare -rm sh -c 'mount -t tmpfs -o size="$1" tmpfs "$2" && shift 2 && eval "$1"' \
  sh "$size" "$dir" "$*"
