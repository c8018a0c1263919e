// placeholder, being written
import { sourceSchema } from '../settings/schema.js';
import type { SourceDefinition } from './source-kit.js';

export const imapSource: SourceDefinition<'imap'> = {
  type: 'imap',
  schema: sourceSchema.options.find((o) => o.shape.type.value === 'imap')!,
  defaultInterval: 300,
  async poll() {
    throw new Error('imap source: not implemented yet');
  },
};
