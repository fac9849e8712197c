// Imported first by a webview: zod probes `new Function` (when its object schemas are
// built) to decide whether to compile its parsers, and under a webview's CSP without
// 'unsafe-eval' that probe is a reported violation. Tell it not to try, before any
// schema is built.
import * as z from 'zod';

z.config({ jitless: true });
