#!/bin/busybox sh
# /init of patchgate's topology guests (guest-to-host, multiqueue): guest/init.sh plus
#   pg.streams=S  S pgnet clients at once, to ports PORT..PORT+S-1 (a server guest starts S servers)
#   pg.ip/pg.peer as in guest/init.sh; a PGNET-INFO line says what the guest sees: CPUs and queues.
. /prologue.sh
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
# vlan and mac modes: two guests joined by QEMU's socket netdev (filter.ts), side a sends, side b receives.
# They meet over TCP with busybox nc: b listens on 7000.. once set up, a connects until b answers.
signal() { i=0; until echo "$2" | nc "$1" "$2" >/dev/null 2>&1 || [ $i -gt 300 ]; do sleep 0.2; i=$((i + 1)); done; }
if [ "$PG_mode" = vlan ]; then
  # VID 100 on both guests must pass; a sends on VID 101 to an address b holds only on VID 102: nothing arrives
  if ! ip link add link eth0 name eth0.100 type vlan id 100 2>/tmp/vlan.err; then
    echo "PGNET-VLAN unsupported $(tr '\n' ' ' < /tmp/vlan.err | head -c 160) vlan_proc=$([ -e /proc/net/vlan ] && echo yes || echo no)"
    echo PGNET-DONE
    reboot -f
  fi
  ip link set eth0.100 up
  if [ "$PG_side" = a ]; then
    ip addr add 10.0.100.1/24 dev eth0.100
    ip link add link eth0 name eth0.101 type vlan id 101 && ip addr add 10.0.101.1/24 dev eth0.101 && ip link set eth0.101 up
    signal "$PG_peer" 7000
    # tagged: UDP request/response with b's pgnet server over VID 100; wrong VID: datagrams on VID 101
    T=$(/bin/pgnet -H 10.0.100.2 -t UDP_RR -n 20 -r 64,64 2>/dev/null | sed -n 's/.*"transactions":\([0-9]*\).*/\1/p')
    /bin/pgnet -H 10.0.101.2 -t UDP_SEND -n 20 -r 64 >/dev/null 2>&1
    signal "$PG_peer" 7001
    echo "PGNET-VLAN a tagged=${T:-0}/20 vid101_tx=$(cat /sys/class/net/eth0.101/statistics/tx_packets) filter=$(cut -c 20 /sys/class/net/eth0/device/features 2>/dev/null)"
  else
    ip addr add 10.0.100.2/24 dev eth0.100
    ip link add link eth0 name eth0.102 type vlan id 102 && ip addr add 10.0.101.2/24 dev eth0.102 && ip link set eth0.102 up
    /bin/pgnet -s >/dev/null &
    nc -l -p 7000 </dev/null >/dev/null
    nc -l -p 7001 </dev/null >/dev/null
    echo "PGNET-VLAN b vid100_rx=$(cat /sys/class/net/eth0.100/statistics/rx_packets) vid102_rx=$(cat /sys/class/net/eth0.102/statistics/rx_packets)"
  fi
  echo PGNET-DONE
  reboot -f
fi
if [ "$PG_mode" = mac ]; then
  # a sends N datagrams to a unicast MAC that is not b's (a static ARP entry); b counts what reaches its driver,
  # first with the rx filter on (nothing may arrive), then in promiscuous mode (everything must arrive)
  N=${PG_frames:-100}
  if [ "$PG_side" = a ]; then
    arp -s 10.0.2.9 52:54:00:de:ad:01
    signal "$PG_peer" 7000
    /bin/pgnet -H 10.0.2.9 -t UDP_SEND -n "$N" -r 64 >/dev/null 2>&1
    signal "$PG_peer" 7001
    signal "$PG_peer" 7002
    /bin/pgnet -H 10.0.2.9 -t UDP_SEND -n "$N" -r 64 >/dev/null 2>&1
    signal "$PG_peer" 7003
    echo "PGNET-MAC a sent=$N"
  else
    rx() { cat /sys/class/net/eth0/statistics/rx_packets; }
    nc -l -p 7000 </dev/null >/dev/null; R0=$(rx)
    nc -l -p 7001 </dev/null >/dev/null; R1=$(rx)
    ip link set eth0 promisc on
    nc -l -p 7002 </dev/null >/dev/null; R2=$(rx)
    nc -l -p 7003 </dev/null >/dev/null; R3=$(rx)
    echo "PGNET-MAC b filtered=$((R1 - R0)) promisc=$((R3 - R2)) sent=$N ctrl_rx=$(cut -c 19 /sys/class/net/eth0/device/features 2>/dev/null)"
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
