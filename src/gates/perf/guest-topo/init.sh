#!/bin/busybox sh
# /init of patchgate's topology guests (guest-to-host, multiqueue): guest/init.sh plus
#   pg.streams=S  S pgnet clients at once, to ports PORT..PORT+S-1 (a server guest starts S servers)
#   pg.ip/pg.peer as in guest/init.sh; a PGNET-INFO line says what the guest sees: CPUs and queues.
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
i=0
while [ "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" != tsc ] && [ $i -lt 100 ]; do
  sleep 0.1; i=$((i + 1))
done
echo "PGNET-CLOCK $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
grep -q idle_sleeptime /proc/timer_list 2>/dev/null && echo "PGNET-IDLE ok" || echo "PGNET-IDLE missing"
RX=$(ls -d /sys/class/net/eth0/queues/rx-* 2>/dev/null | wc -l)
TX=$(ls -d /sys/class/net/eth0/queues/tx-* 2>/dev/null | wc -l)
echo "PGNET-INFO {\"cpus\":$(nproc),\"rx_queues\":$RX,\"tx_queues\":$TX}"
if [ "$PG_mode" = copy ]; then
  # file copy both ways over HTTP (busybox wget and httpd): the host serves in.bin, the guest serves out.bin
  H="http://${PG_peer}:8000"
  wget -q -O /tmp/in.bin "$H/in.bin" && echo "PGNET-COPY-IN $(sha256sum /tmp/in.bin | cut -d' ' -f1) $(wc -c < /tmp/in.bin)"
  mkdir -p /www
  dd if=/dev/urandom of=/www/out.bin bs=65536 count="${PG_copy_blocks:-64}" 2>/dev/null
  httpd -p 8080 -h /www
  echo "PGNET-COPY-OUT $(sha256sum /www/out.bin | cut -d' ' -f1) $(wc -c < /www/out.bin)"
  i=0
  until wget -q -O /dev/null "$H/fetched" 2>/dev/null || [ $i -gt 600 ]; do sleep 0.2; i=$((i + 1)); done
  echo PGNET-DONE
  reboot -f
fi
if [ "$PG_mode" = hotplug ]; then
  # a NIC added and removed through the QEMU monitor: report when the guest sees it come and go
  echo "PGNET-HOTPLUG ready acpi=$([ -d /sys/firmware/acpi ] && echo yes || echo no) slots=$(ls /sys/bus/pci/slots 2>/dev/null | wc -l)"
  i=0
  while [ ! -e /sys/class/net/eth1 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
  if [ -e /sys/class/net/eth1 ]; then
    echo "PGNET-HOTPLUG added $(cat /sys/class/net/eth1/address)"
    ip link set eth1 up && echo "PGNET-HOTPLUG up"
    i=0
    while [ -e /sys/class/net/eth1 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    [ -e /sys/class/net/eth1 ] || echo "PGNET-HOTPLUG removed"
  else
    echo "PGNET-HOTPLUG timeout"
  fi
  echo PGNET-DONE
  reboot -f
fi
S=${PG_streams:-1}
P=${PG_port:-12865}
if [ "$PG_role" = server ]; then
  j=1
  while [ $j -lt "$S" ]; do /bin/pgnet -s -p $((P + j)) & j=$((j + 1)); done
  exec /bin/pgnet -s -p "$P"
fi
/bin/pgnet -H "$PG_peer" -p "$P" -t "${PG_test:-TCP_RR}" -n 200 -r "${PG_size:-1,1}" >/dev/null
echo PGNET-RUNNING
r=0
while [ $r -lt "${PG_reps:-1}" ]; do
  j=0
  while [ $j -lt "$S" ]; do
    /bin/pgnet -H "$PG_peer" -p $((P + j)) -t "${PG_test:-TCP_RR}" -n "${PG_n:-4000}" ${PG_secs:+-l $PG_secs} -r "${PG_size:-1,1}" -m "${PG_msg:-16384}" > /tmp/out.$j &
    j=$((j + 1))
  done
  wait
  j=0
  while [ $j -lt "$S" ]; do echo "PGNET-STREAM $j $(cat /tmp/out.$j)"; j=$((j + 1)); done
  r=$((r + 1))
done
echo PGNET-DONE
reboot -f
