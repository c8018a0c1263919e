# Sourced by every perf and topology guest's /init (as /prologue.sh): busybox's applets, /proc, /sys and /dev,
# the kernel command line's pg.NAME=VALUE parameters as PG_NAME, lo and eth0 (pg.ip) up, and the clock check.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
for x in $(cat /proc/cmdline); do
  case "$x" in pg.*=*) k="${x%%=*}"; k="${k#pg.}"; eval "PG_$k='${x#*=}'" ;; esac
done
ip link set lo up
ip addr add "${PG_ip}/24" dev eth0
ip link set eth0 up
# measure only once the clocksource is tsc (machine-facts.md: icount runs the TSC at 1 GHz)
i=0
while [ "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" != tsc ] && [ $i -lt 100 ]; do
  sleep 0.1; i=$((i + 1))
done
echo "PGNET-CLOCK $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
# the busy-ns metric needs the idle accounting in /proc/timer_list
grep -q idle_sleeptime /proc/timer_list 2>/dev/null && echo "PGNET-IDLE ok" || echo "PGNET-IDLE missing"
