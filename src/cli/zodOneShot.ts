// Imported first by the commands bundle, before any schema is built: a command is one
// short process that validates pipeline.json and a few files once, and zod's compiled
// parsers (`new Function` per object schema, made on its first parse) cost more to
// generate and compile than that one parse saves. The events have their own compiled
// check (core/events.ts), which this does not touch.
import * as z from 'zod';

z.config({ jitless: true });
