// placeholder, being written
import { sourceSchema } from '../settings/schema.js';
import type { SourceDefinition } from './source-kit.js';

export const githubSource: SourceDefinition<'github'> = {
  type: 'github',
  schema: sourceSchema.options.find((o) => o.shape.type.value === 'github')!,
  defaultInterval: 300,
  async poll() {
    throw new Error('github source: not implemented yet');
  },
};
