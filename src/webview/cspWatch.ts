// Imported first by a webview: every Content-Security-Policy violation is counted on the
// page's element (`data-csp-violations`, and the last one in `data-csp-last`), where the
// host tests look for it, and handed to the listeners (a view may tell its host). First,
// so that a violation made while the other modules load is seen too.
const listeners: ((directive: string, blocked: string) => void)[] = [];
let violations = 0;

document.addEventListener('securitypolicyviolation', (e) => {
  violations++;
  // The page's one element (webviewHtml puts it in the body before the script).
  const root = document.body?.firstElementChild;
  root?.setAttribute('data-csp-violations', String(violations));
  root?.setAttribute('data-csp-last', `${e.violatedDirective} ${String(e.blockedURI)} ${e.sourceFile ?? ''}:${e.lineNumber ?? ''}`.slice(0, 500));
  for (const listener of listeners) listener(e.violatedDirective.slice(0, 200), String(e.blockedURI).slice(0, 500));
});

export function onCspViolation(listener: (directive: string, blocked: string) => void): void {
  listeners.push(listener);
}
