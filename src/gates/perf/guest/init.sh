#!/bin/busybox sh
# /init of patchgate's perf guests. Parameters come from the kernel command line as pg.NAME=VALUE.
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
if [ "$PG_role" = server ]; then
  exec /bin/pgnet -s -p "${PG_port:-12865}"
fi
# client: warm-up, then the measured runs, each printing one PGNET line
/bin/pgnet -H "$PG_peer" -p "${PG_port:-12865}" -t "${PG_test:-TCP_RR}" -n 200 -r "${PG_size:-1,1}" >/dev/null
r=0
while [ $r -lt "${PG_reps:-1}" ]; do
  /bin/pgnet -H "$PG_peer" -p "${PG_port:-12865}" -t "${PG_test:-TCP_RR}" -n "${PG_n:-4000}" -r "${PG_size:-1,1}" -m "${PG_msg:-16384}"
  r=$((r + 1))
done
echo PGNET-DONE
# QEMU runs with -no-reboot: a reboot ends it at once
reboot -f
