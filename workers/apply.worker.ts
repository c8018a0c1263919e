// Boots the apply stage worker as its own process: node --import tsx workers/apply.worker.ts --config FILE
// (or, after npm run build, node dist/workers/apply.worker.js --config FILE). Same code as patchgate worker --queues apply.
import { bootStageWorker } from '../src/commands/worker.js';

await bootStageWorker(['apply']);
