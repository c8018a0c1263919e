// Boots the build stage worker as its own process: node --import tsx workers/build.worker.ts --config FILE
// (or, after npm run build, node dist/workers/build.worker.js --config FILE). Same code as patchgate worker --queues build.
import { bootStageWorker } from '../src/commands/worker.js';

await bootStageWorker(['build']);
