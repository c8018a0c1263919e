#!/bin/sh
# Boots a server and a client guest joined by QEMU's socket netdev on loopback and waits for the client.
# Run inside a private network namespace (unshare -n) so the guests reach nothing but each other.
# Environment: QEMU KERNEL INITRD OUT PORT ACCEL ICOUNT MEM TIMEOUT CLIENT_ARGS SERVER_ARGS
set -u
ip link set lo up 2>/dev/null || true
BASE="console=ttyS0 panic=-1 tsc_early_khz=1000000 tsc=reliable nolapic_timer i8042.noaux=1 i8042.nokbd=1 virtio_net.napi_tx=0 quiet"
ACCEL_ARGS="-accel $ACCEL"
[ "$ICOUNT" = 1 ] && ACCEL_ARGS="$ACCEL_ARGS -icount shift=0,align=off,sleep=on"
common() {
  echo "$ACCEL_ARGS -m $MEM -smp 1 -nodefaults -no-user-config -display none -no-reboot -kernel $KERNEL -initrd $INITRD"
}
# shellcheck disable=SC2046
timeout -k 2 "$TIMEOUT" "$QEMU" $(common) -serial "file:$OUT/server.log" \
  -netdev "socket,id=n0,listen=127.0.0.1:$PORT" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:01 \
  -append "$BASE pg.role=server pg.ip=10.0.2.1 $SERVER_ARGS" 2>"$OUT/server.err" &
SPID=$!
# listening: /proc/net/tcp holds local addresses as hex ADDR:PORT, state 0A (LISTEN)
HEXPORT=$(printf '%04X' "$PORT")
listening() {
  awk -v p=":$HEXPORT" 'NR > 1 && substr($2, length($2) - 4) == p && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp 2>/dev/null
}
i=0
while ! listening; do
  i=$((i + 1))
  if [ $i -gt 100 ] || ! kill -0 $SPID 2>/dev/null; then echo "server QEMU did not listen on $PORT" >&2; kill $SPID 2>/dev/null; exit 3; fi
  sleep 0.05
done
# shellcheck disable=SC2046
timeout -k 2 "$TIMEOUT" "$QEMU" $(common) -serial "file:$OUT/client.log" \
  -netdev "socket,id=n0,connect=127.0.0.1:$PORT" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:02 \
  -append "$BASE pg.role=client pg.ip=10.0.2.2 pg.peer=10.0.2.1 $CLIENT_ARGS" 2>"$OUT/client.err"
RC=$?
kill $SPID 2>/dev/null
wait $SPID 2>/dev/null
exit $RC
