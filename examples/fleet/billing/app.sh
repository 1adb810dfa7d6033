#!/bin/busybox sh
# billing: marks itself healthy and idles; the demo's stand-in for a real service.
/bin/busybox touch /tmp/healthy
echo "billing up"
exec /bin/busybox sleep 2147483647
