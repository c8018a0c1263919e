// readAhead: the items in order, never more than the bound held ahead, the source's error after the items
// read before it, and a consumer that stops early closes the source.
import { describe, expect, it } from 'vitest';
import { readAhead } from '../../../src/ingest/read-ahead.js';

/** A source of N items of SIZE each that records how far it was read and whether it was closed. */
function source(n: number, size = 10, failAt = -1) {
  const state = { produced: 0, closed: false, maxAhead: 0 };
  let consumed = 0;
  async function* gen(): AsyncGenerator<{ i: number; size: number }> {
    try {
      for (let i = 0; i < n; i++) {
        await new Promise((r) => setImmediate(r));
        if (i === failAt) throw new Error(`source failed at ${i}`);
        state.produced++;
        state.maxAhead = Math.max(state.maxAhead, state.produced - consumed);
        yield { i, size };
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, gen, consumed: () => consumed++ };
}

describe('readAhead', () => {
  it('hands out every item in order while reading ahead within the bound', async () => {
    const s = source(500, 10);
    const seen: number[] = [];
    for await (const x of readAhead(s.gen(), { limit: 100, sizeOf: (x) => x.size })) {
      s.consumed();
      seen.push(x.i);
      // a slow consumer: the source runs ahead meanwhile, up to 100 bytes (10 items) and the one in flight
      if (x.i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(seen).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(s.state.maxAhead).toBeGreaterThan(5);
    expect(s.state.maxAhead).toBeLessThanOrEqual(12);
    // the item count bound holds for small items too
    const t = source(200, 0);
    for await (const x of readAhead(t.gen(), { limit: 1 << 20, maxItems: 4, sizeOf: (x) => x.size })) {
      t.consumed();
      if (x.i % 40 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(t.state.maxAhead).toBeLessThanOrEqual(6);
  });

  it("throws the source's error after the items read before it", async () => {
    const s = source(100, 1, 30);
    const seen: number[] = [];
    await expect((async () => {
      for await (const x of readAhead(s.gen(), { limit: 1000, sizeOf: (x) => x.size })) seen.push(x.i);
    })()).rejects.toThrow('source failed at 30');
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('closes the source when the consumer stops early', async () => {
    const s = source(10_000, 1);
    let n = 0;
    for await (const _x of readAhead(s.gen(), { limit: 50, sizeOf: (x) => x.size })) if (++n === 20) break;
    await new Promise((r) => setTimeout(r, 20));
    expect(s.state.closed).toBe(true);
    expect(s.state.produced).toBeLessThan(100);
  });
});
