// The one page every Factory webview loads: a strict Content-Security-Policy with a
// nonce, codicons, the view's stylesheet from media/, and its bundled module script
// from dist/webview/. Nothing inline runs.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

export interface WebviewPage {
  /** The custom element the module defines, e.g. `factory-transcript`. */
  element: string;
  /** The bundle in dist/webview, without `.js`. */
  script: string;
  /** The stylesheet in media/. */
  stylesheet: string;
  title: string;
}

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, page: WebviewPage): string {
  const nonce = randomBytes(18).toString('base64');
  const uri = (...parts: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, ...parts)).toString();
  const csp = ["default-src 'none'", `img-src ${webview.cspSource} data:`, `style-src ${webview.cspSource}`, `script-src 'nonce-${nonce}'`, `font-src ${webview.cspSource}`].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${csp}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link id="vscode-codicon-stylesheet" rel="stylesheet" href="${uri('dist', 'webview', 'codicons', 'codicon.css')}">
  <link rel="stylesheet" href="${uri('media', page.stylesheet)}">
  <title>${page.title}</title>
</head>
<body>
  <${page.element}></${page.element}>
  <script type="module" nonce="${nonce}" src="${uri('dist', 'webview', `${page.script}.js`)}"></script>
</body>
</html>`;
}

/** The only folders a Factory webview may load from. */
export function webviewRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')];
}
