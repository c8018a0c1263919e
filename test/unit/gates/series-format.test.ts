import { describe, expect, it } from 'vitest';
import { seriesFormatGate, seriesFormatSettingsSchema } from '../../../src/gates/series-format/index.js';
import { gateContext, gatePatch } from './gate-repo.js';

const settings = seriesFormatSettingsSchema.parse({});
const patches = (n: number) => Array.from({ length: n }, (_, i) => gatePatch(i + 1, null, null));

describe('series-format gate', () => {
  it('two patches need no cover letter', async () => {
    expect((await seriesFormatGate.run(gateContext(null, patches(2)), settings)).status).toBe('success');
  });
  it('three patches without a cover letter fail; with one they pass', async () => {
    const r = await seriesFormatGate.run(gateContext(null, patches(3)), settings);
    expect(r.status).toBe('failure');
    expect(r.summary).toContain('needs a cover letter');
    expect((await seriesFormatGate.run(gateContext(null, patches(3), { cover: '<0@x>' }), settings)).status).toBe('success');
  });
  it('caps the length at 15 only for trees on lists that ask for it', async () => {
    const netdev = await seriesFormatGate.run(gateContext('/nonexistent', patches(16), { cover: '<0@x>' }, ['netdev@vger.kernel.org']), settings);
    expect(netdev.status).toBe('failure');
    expect(netdev.summary).toContain('at most 15');
    const kvm = await seriesFormatGate.run(gateContext('/nonexistent', patches(16), { cover: '<0@x>' }, ['kvm@vger.kernel.org']), settings);
    expect(kvm.status).toBe('success');
  });
  it('warns about an incomplete series', async () => {
    const r = await seriesFormatGate.run(gateContext(null, patches(2), { total: 4, received_all: false, cover: '<0@x>' }), settings);
    expect(r.status).toBe('warning');
    expect(r.summary).toContain('only 2 of 4');
  });
});
