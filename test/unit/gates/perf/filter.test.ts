import { describe, expect, it } from 'vitest';
import { filterGuestArgs, macVerdict, parseMacLogs, parseVlanLogs, vlanVerdict } from '../../../../src/gates/perf/filter.js';

// Console lines as the guests printed them on this machine (6.1 guest kernels under TCG, 2026-11-26):
// the SMP build with 8021q (var/perf/kernels-smp/smp4.bzImage) and the perf kernel without it (extra-0).
const boot = '[    0.000000] Linux version 6.1.192\nPGNET-CLOCK tsc\nPGNET-IDLE ok\nPGNET-INFO {"cpus":1,"rx_queues":1,"tx_queues":1}\n';
const vlanA = `${boot}PGNET-VLAN a tagged=20/20 vid101_tx=2 filter=1\nPGNET-DONE\n`;
const vlanB = `${boot}PGNET-VLAN b vid100_rx=21 vid102_rx=0\nPGNET-DONE\n`;
const noVlan = `${boot}PGNET-VLAN unsupported ip: RTNETLINK answers: Operation not supported  vlan_proc=no\nPGNET-DONE\n`;
const macA = `${boot}PGNET-MAC a sent=100\nPGNET-DONE\n`;
const macB = `${boot}PGNET-MAC b filtered=6 promisc=103 sent=100 ctrl_rx=1\nPGNET-DONE\n`;

describe('vlan-filter', () => {
  it('passes when every transaction over the shared VID completes and nothing sent on VID 101 reaches VID 102', () => {
    const v = parseVlanLogs(vlanA, vlanB);
    expect(v).toEqual({ unsupported: null, tagged: { done: 20, wanted: 20 }, wrongVidTx: 2, receiver: { vid100: 21, vid102: 0 }, deviceFilter: true });
    const r = vlanVerdict(v);
    expect(r.status).toBe('success');
    expect(r.summary).toMatch(/VID 100: 20\/20 UDP_RR transactions .* wrong VID: 2 frames sent on VID 101, 0 reached VID 102, device VLAN filter \(CTRL_VLAN\) negotiated/);
  });

  it('fails when frames of the wrong VID arrive, when tagged traffic is lost, or when the wrong VID was never exercised', () => {
    const leak = vlanVerdict(parseVlanLogs(vlanA, vlanB.replace('vid102_rx=0', 'vid102_rx=2')));
    expect(leak).toMatchObject({ status: 'failure', summary: expect.stringMatching(/2 frames reached the receiver's VID 102 interface/) });
    const lost = vlanVerdict(parseVlanLogs(vlanA.replace('tagged=20/20', 'tagged=0/20'), vlanB));
    expect(lost).toMatchObject({ status: 'failure', summary: expect.stringMatching(/only 0 of 20 UDP_RR transactions over VID 100/) });
    const idle = vlanVerdict(parseVlanLogs(vlanA.replace('vid101_tx=2', 'vid101_tx=0'), vlanB));
    expect(idle).toMatchObject({ status: 'failure', summary: expect.stringMatching(/wrong-VID case was not exercised/) });
  });

  it('a guest kernel without 802.1Q makes the cell not run, with the reason; a guest that never reports fails', () => {
    const r = vlanVerdict(parseVlanLogs(noVlan, noVlan));
    expect(r.status).toBe('not-run');
    expect(r.summary).toMatch(/no 802\.1Q VLAN support \(CONFIG_VLAN_8021Q\).*Operation not supported/);
    expect(vlanVerdict(parseVlanLogs(boot, vlanB))).toMatchObject({ status: 'failure', summary: expect.stringMatching(/sender no result, receiver done/) });
  });
});

describe('mac-filter', () => {
  it('passes when the foreign frames are dropped with the filter on and all arrive in promiscuous mode', () => {
    const m = parseMacLogs(macA, macB);
    expect(m).toEqual({ sent: 100, filtered: 6, promisc: 103, ctrlRx: true });
    expect(macVerdict(m)).toMatchObject({ status: 'success', summary: expect.stringMatching(/100 frames to a foreign unicast MAC: 6 .* 103 in promiscuous mode \(CTRL_RX negotiated\)/) });
  });

  it('fails when the filter lets the foreign frames through, or when promiscuous mode does not deliver them', () => {
    expect(macVerdict(parseMacLogs(macA, macB.replace('filtered=6', 'filtered=106')))).toMatchObject({ status: 'failure', summary: expect.stringMatching(/with the rx filter on, 106 frames reached/) });
    expect(macVerdict(parseMacLogs(macA, macB.replace('promisc=103', 'promisc=5')))).toMatchObject({ status: 'failure', summary: expect.stringMatching(/only 5 frames arrived \(6 with the filter on\) of the 100/) });
    // a few frames lost by the UDP netdev on a loaded host (the first complete matrix run: 99) still pass
    expect(macVerdict(parseMacLogs(macA, macB.replace('promisc=103', 'promisc=99'))).status).toBe('success');
    expect(macVerdict(parseMacLogs(macA, boot))).toMatchObject({ status: 'failure', summary: expect.stringMatching(/receiver no result/) });
  });
});

describe('the two guests of a filter check', () => {
  it('send UDP-encapsulated frames to each other crosswise, with their own MAC and address, under icount', () => {
    const o = { kernel: '/k', initrd: '/i', workDir: '/w' };
    const a = filterGuestArgs(o, 'a', 'mac', [31000, 31001], '/w/a.log');
    const b = filterGuestArgs(o, 'b', 'mac', [31000, 31001], '/w/b.log');
    expect(a[a.indexOf('-netdev') + 1]).toBe('socket,id=n0,udp=127.0.0.1:31001,localaddr=127.0.0.1:31000');
    expect(b[b.indexOf('-netdev') + 1]).toBe('socket,id=n0,udp=127.0.0.1:31000,localaddr=127.0.0.1:31001');
    expect(a[a.indexOf('-device') + 1]).toMatch(/mac=52:54:00:12:34:01$/);
    expect(b[b.indexOf('-append') + 1]).toMatch(/pg\.mode=mac pg\.side=b pg\.ip=10\.0\.2\.2 pg\.peer=10\.0\.2\.1 pg\.frames=100$/);
    expect(a).toContain('shift=0,align=off,sleep=on');
    const v = filterGuestArgs({ ...o, accel: 'kvm' }, 'a', 'vlan', [1, 2], '/w/a.log');
    expect(v).not.toContain('-icount');
    expect(v[v.indexOf('-append') + 1]).not.toMatch(/pg\.frames/);
  });
});
