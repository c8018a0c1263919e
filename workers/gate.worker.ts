// Boots the gate stage worker as its own process: node --import tsx workers/gate.worker.ts --config FILE
// (or, after npm run build, node dist/workers/gate.worker.js --config FILE). Same code as patchgate worker --queues gate.
import { bootStageWorker } from '../src/commands/worker.js';

await bootStageWorker(['gate']);
