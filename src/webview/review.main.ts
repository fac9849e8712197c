// The review panel's entry: it says `ready` before the panel's code (Lit, the elements,
// zod and the protocol's schemas: most of review.js) is evaluated, so the host's
// overview and first step travel while that code evaluates, instead of after it. The
// messages that arrive meanwhile are kept and handed to the panel in order once its
// element is defined (reviewApp.ts). esbuild keeps a dynamic import's module in this
// bundle, unevaluated until called. Violations are counted on the element (cspWatch).
import './cspWatch';
import type { ReviewWebviewMessage } from '../core/reviewProtocol';
import { vscode } from './host';

const early: MessageEvent[] = [];
const keep = (event: MessageEvent): void => void early.push(event);
window.addEventListener('message', keep);
// A constant message: it leaves unchecked, before zod and the protocol's schemas are built.
const ready: ReviewWebviewMessage = { type: 'ready' };
vscode.postMessage(ready);
// Where the first step's time goes (bench/review-host.mjs reads these marks).
performance.mark('review:ready');
// One task later: `ready` is on its way to the host (through the frames that relay it)
// before this page's thread is taken by the evaluation.
setTimeout(() => {
  import('./reviewApp').then(
    ({ startReview }) => {
      window.removeEventListener('message', keep);
      startReview(early);
    },
    (error: unknown) => console.error('The review panel could not load:', error),
  );
}, 0);
