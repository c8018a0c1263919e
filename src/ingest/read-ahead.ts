// Reading ahead of the consumer. The thread that ingests stores each batch in one synchronous transaction and
// then needs the next batch's mail at once; pulled a message at a time, a source like `git cat-file --batch`
// only produces while it is asked (its pipe holds 64 KB), so the ingest waited for it between batches:
// measured over the archive, ~1.3 s of waiting for input in a 3 s run, at times with the parser thread idle.
// Reading ahead keeps pulling while the thread waits for the parsers, up to a bound.

export interface ReadAheadOptions<T> {
  /** the most held ahead, in sizeOf units (bytes) */
  limit: number;
  /** the most items held ahead, whatever their size */
  maxItems?: number;
  sizeOf: (item: T) => number;
}

/**
 * The items of SOURCE in order, pulled ahead of the consumer into a bounded buffer. An error of the source is
 * thrown to the consumer after the items read before it; a consumer that stops early stops the reading and
 * closes the source (its `return`), once the read in progress has settled.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, opts: ReadAheadOptions<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const maxItems = opts.maxItems ?? Infinity;
  const queue: T[] = [];
  let head = 0; // queue[head] is the next item to hand out
  let held = 0; // sizeOf of the items held
  let finished = false; // the pump has stopped
  let sourceDone = false; // the source ended or failed: nothing to close
  let failure: { error: unknown } | null = null;
  let stopped = false;
  let wakeConsumer: (() => void) | null = null;
  let wakeProducer: (() => void) | null = null;
  const wake = (which: 'consumer' | 'producer') => {
    const w = which === 'consumer' ? wakeConsumer : wakeProducer;
    if (which === 'consumer') wakeConsumer = null;
    else wakeProducer = null;
    w?.();
  };
  const full = () => held >= opts.limit || queue.length - head >= maxItems;

  const pump = (async () => {
    try {
      while (!stopped) {
        if (full()) {
          await new Promise<void>((resolve) => (wakeProducer = resolve));
          continue;
        }
        const r = await it.next();
        if (r.done) {
          sourceDone = true;
          break;
        }
        queue.push(r.value);
        held += opts.sizeOf(r.value);
        wake('consumer');
      }
    } catch (error) {
      sourceDone = true;
      failure = { error };
    }
    finished = true;
    wake('consumer');
  })();

  try {
    for (;;) {
      if (head < queue.length) {
        const item = queue[head];
        queue[head++] = undefined as T; // not held by the buffer any more
        if (head > 1024 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
        held -= opts.sizeOf(item);
        if (!full()) wake('producer');
        yield item;
        continue;
      }
      if (finished) {
        if (failure) throw (failure as { error: unknown }).error;
        return;
      }
      await new Promise<void>((resolve) => (wakeConsumer = resolve));
    }
  } finally {
    stopped = true;
    wake('producer');
    // the read in progress settles first; then the source is closed (a git reader kills its process)
    void pump.then(() => (sourceDone ? undefined : it.return?.())).catch(() => undefined);
  }
}
