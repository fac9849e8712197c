// What the factory needs only for some use cases, loaded on first use instead of when
// the factory is built: a read-only command (`factory-cockpit status`) then evaluates
// none of the agent backends, the stage runner, the context pack, verification, review
// or metrics (bench/cli-startup.mjs). A bundle keeps a module that is required inside a
// function unevaluated until the call (esbuild wraps it), so the cost moves to the
// first use that needs it. `require`, not `import()`: Factory.runner, .context,
// .backends and .review stay synchronous for every surface.
/* eslint-disable @typescript-eslint/no-require-imports -- see above: synchronous, on first use */

/** `load` once; later calls return the same module object. */
function once<T>(load: () => T): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load());
}

export const onFirstUse = {
  catalog: once(() => require('../backends/catalog') as typeof import('../backends/catalog')),
  backendCheck: once(() => require('../backends/check') as typeof import('../backends/check')),
  backendRegistry: once(() => require('../backends/registry') as typeof import('../backends/registry')),
  usageMeter: once(() => require('../backends/usageMeter') as typeof import('../backends/usageMeter')),
  gitObjects: once(() => require('../git/gitObjects') as typeof import('../git/gitObjects')),
  contextContent: once(() => require('../store/contextContent') as typeof import('../store/contextContent')),
  contextPackStore: once(() => require('../store/contextPackStore') as typeof import('../store/contextPackStore')),
  decisionLog: once(() => require('../store/decisionLog') as typeof import('../store/decisionLog')),
  autonomy: once(() => require('../core/autonomy') as typeof import('../core/autonomy')),
  stageRunner: once(() => require('./stageRunner') as typeof import('./stageRunner')),
  transcriptReplay: once(() => require('./transcriptReplay') as typeof import('./transcriptReplay')),
  stageTask: once(() => require('./stageTask') as typeof import('./stageTask')),
  review: once(() => require('./review') as typeof import('./review')),
  reviewFeedback: once(() => require('./reviewFeedback') as typeof import('./reviewFeedback')),
  verification: once(() => require('./verification') as typeof import('./verification')),
  metrics: once(() => require('./metrics') as typeof import('./metrics')),
  lessonPromotion: once(() => require('./lessonPromotion') as typeof import('./lessonPromotion')),
};
