#!/usr/bin/env bash
# Builds the perf gate's calibration kernels from Debian's linux-source-6.1: the baseline guest kernel and
# candidates with a known extra cost in virtio_net's transmit path (a loop of N iterations per packet sent),
# so that the gate can be checked against effects of known size. Kernels land in var/perf/kernels/.
#   scripts/perf-kernels.sh [N ...]      (default: 0 25 100 500)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/var/perf
SRC=$WORK/linux
OUT=$WORK/build
KOUT=$WORK/kernels
mkdir -p "$WORK" "$KOUT"
if [ ! -f "$SRC/Makefile" ]; then
  tar -C "$WORK" -xJf /usr/src/linux-source-6.1.tar.xz
  mv "$WORK/linux-source-6.1" "$SRC"
fi
if [ ! -f "$OUT/.config" ]; then
  make -s -C "$SRC" O="$OUT" tinyconfig
  "$SRC/scripts/kconfig/merge_config.sh" -m -O "$OUT" "$OUT/.config" config/kconfig/kvm-guest.config config/kconfig/perf-guest.config >/dev/null
  make -s -C "$SRC" O="$OUT" olddefconfig
fi
F=$SRC/drivers/net/virtio_net.c
[ -f "$F.orig" ] || cp "$F" "$F.orig"
for n in "${@:-0 25 100 500}"; do
  [ -f "$KOUT/extra-$n.bzImage" ] && continue
  cp "$F.orig" "$F"
  if [ "$n" != 0 ]; then
    # a sized, unoptimisable cost on every transmitted packet
    python3 - "$F" "$n" <<'PY'
import sys
path, n = sys.argv[1], sys.argv[2]
s = open(path).read()
anchor = "static netdev_tx_t start_xmit(struct sk_buff *skb, struct net_device *dev)\n{\n"
helper = ("static noinline void patchgate_extra_cost(void)\n{\n\tunsigned int i;\n\n"
          "\tfor (i = 0; i < %s; i++)\n\t\tbarrier();\n}\n\n" % n)
assert anchor in s
s = s.replace(anchor, helper + anchor + "\tpatchgate_extra_cost();\n", 1)
open(path, "w").write(s)
PY
  fi
  nice -n 5 make -s -C "$SRC" O="$OUT" -j"$(nproc)" CC="ccache gcc" bzImage
  cp "$OUT/arch/x86/boot/bzImage" "$KOUT/extra-$n.bzImage"
  echo "built $KOUT/extra-$n.bzImage"
done
cp "$F.orig" "$F"
