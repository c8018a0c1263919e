// Boots the report stage worker as its own process: node --import tsx workers/report.worker.ts --config FILE
// (or, after npm run build, node dist/workers/report.worker.js --config FILE). Same code as patchgate worker --queues report.
import { bootStageWorker } from '../src/commands/worker.js';

await bootStageWorker(['report']);
