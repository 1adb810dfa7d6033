#!/bin/busybox sh
# gateway: marks itself healthy and idles; the demo's stand-in for a real service.
/bin/busybox mkdir -p /tmp && /bin/busybox touch /tmp/healthy
echo "gateway up"
trap "exit 0" TERM INT
/bin/busybox sleep 2147483647 & wait
