// Writes src/core/eventChecks.generated.ts, the fast checks of the record's events,
// from their zod schemas in src/core/events.ts (see src/core/eventChecksSource.ts).
// A unit test fails when the committed file and the schemas drift apart.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventChecksSource } from '../src/core/eventChecksSource';

const target = join(__dirname, '..', 'src', 'core', 'eventChecks.generated.ts');
writeFileSync(target, eventChecksSource());
console.log(`wrote ${target}`);
