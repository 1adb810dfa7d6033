#!/bin/busybox sh
# shipping: marks itself healthy and idles; the demo's stand-in for a real service.
/bin/busybox touch /tmp/healthy
echo "shipping up"
exec /bin/busybox sleep 2147483647
