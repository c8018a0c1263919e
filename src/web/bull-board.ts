// bull-board's queue views under /queues/, read-only (retry, clean and remove are maintainers' actions the
// dashboard does not hand out without a token). Mounted only when the queues are reachable at start.
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { logger } from '../log.js';

export const BULL_BOARD_PATH = '/queues';

/** Mounts bull-board; returns its path, or null when the optional packages are missing or fail to load. */
export async function mountBullBoard(app: FastifyInstance, queues: Queue[]): Promise<string | null> {
  try {
    const { createBullBoard } = await import('@bull-board/api');
    const { BullMQAdapter } = await import('@bull-board/api/bullMQAdapter');
    const { FastifyAdapter } = await import('@bull-board/fastify');
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(BULL_BOARD_PATH);
    createBullBoard({
      // bull-board is typed against bullmq 5; the adapter only calls the Queue API both versions share
      queues: queues.map((q) => new BullMQAdapter(q as unknown as ConstructorParameters<typeof BullMQAdapter>[0], { readOnlyMode: true })),
      serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
      options: { uiConfig: { boardTitle: 'patchgate queues' } },
    });
    await app.register(serverAdapter.registerPlugin() as Parameters<FastifyInstance['register']>[0], { prefix: BULL_BOARD_PATH });
    return `${BULL_BOARD_PATH}/`;
  } catch (err) {
    logger.warn({ err }, 'bull-board not mounted');
    return null;
  }
}
