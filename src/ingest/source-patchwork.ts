// placeholder, being written
import { sourceSchema } from '../settings/schema.js';
import type { SourceDefinition } from './source-kit.js';

export const patchworkSource: SourceDefinition<'patchwork'> = {
  type: 'patchwork',
  schema: sourceSchema.options.find((o) => o.shape.type.value === 'patchwork')!,
  defaultInterval: 300,
  async poll() {
    throw new Error('patchwork source: not implemented yet');
  },
};
