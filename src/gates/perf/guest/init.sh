#!/bin/busybox sh
# /init of patchgate's perf guests. Parameters come from the kernel command line as pg.NAME=VALUE.
. /prologue.sh
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
