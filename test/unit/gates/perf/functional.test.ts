import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { qmpConnect, readCpuStat } from '../../../../src/gates/perf/functional.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'pg-func-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A QMP server speaking the protocol's framing: greeting, capabilities negotiation, replies and events. */
function qmpServer(sock: string, log: string[]): net.Server {
  return net.createServer((c) => {
    c.write('{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}}\r\n');
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const m = JSON.parse(buf.slice(0, i)) as { execute: string; arguments?: Record<string, unknown> };
        buf = buf.slice(i + 1);
        log.push(m.arguments ? `${m.execute} ${JSON.stringify(m.arguments)}` : m.execute);
        if (m.execute === 'device_add' && m.arguments?.id === 'dup') c.write('{"error": {"class": "GenericError", "desc": "Duplicate device ID"}}\r\n');
        else if (m.execute === 'device_del') {
          c.write('{"return": {}}\r\n');
          setTimeout(() => c.write('{"event": "DEVICE_DELETED", "data": {"device": "hp1"}, "timestamp": {"seconds": 1}}\r\n'), 30);
        } else c.write('{"return": {}}\r\n');
      }
    });
  }).listen(sock);
}

describe('QMP client', () => {
  it('negotiates capabilities, sends commands in order, reports errors, and waits for events', async () => {
    const sock = path.join(tmp, 'q.sock');
    const log: string[] = [];
    const srv = qmpServer(sock, log);
    try {
      const m = await qmpConnect(sock, 5000);
      await m.cmd('device_add', { driver: 'virtio-net-pci', id: 'hp1', netdev: 'hn1' });
      await expect(m.cmd('device_add', { driver: 'virtio-net-pci', id: 'dup' })).rejects.toThrow(/Duplicate device ID/);
      await m.cmd('device_del', { id: 'hp1' });
      const ev = await m.waitEvent('DEVICE_DELETED', 2000);
      expect(ev.data).toEqual({ device: 'hp1' });
      await expect(m.waitEvent('RESET', 100)).rejects.toThrow(/no RESET event/);
      m.close();
      expect(log).toEqual([
        'qmp_capabilities',
        'device_add {"driver":"virtio-net-pci","id":"hp1","netdev":"hn1"}',
        'device_add {"driver":"virtio-net-pci","id":"dup"}',
        'device_del {"id":"hp1"}',
      ]);
    } finally {
      srv.close();
    }
  });

  it('waits for a socket that QEMU has not created yet, and gives up after its timeout', async () => {
    await expect(qmpConnect(path.join(tmp, 'never.sock'), 300)).rejects.toThrow(/QMP socket .*never\.sock/);
  });
});

describe('cgroup cpu.stat', () => {
  it('reads v1 and v2 counters', () => {
    const d = path.join(tmp, 'cg');
    mkdirSync(d);
    writeFileSync(path.join(d, 'cpu.stat'), 'nr_periods 138\nnr_throttled 94\nthrottled_time 8702345678\n');
    expect(readCpuStat(d)).toEqual({ nr_periods: 138, nr_throttled: 94, throttled_time: 8702345678 });
    expect(readCpuStat(path.join(tmp, 'none'))).toEqual({});
  });
});
