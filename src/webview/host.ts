// The browser side of a webview's connection to the extension, shared by every panel:
// the page's one VS Code API handle (acquireVsCodeApi may be called once per page) and
// a sender that checks each message against the panel's protocol before it leaves,
// so a bug on this side shows in the webview's console instead of a silent drop.
export interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export const vscode = acquireVsCodeApi();

type Checked<M> = { ok: true; message: M } | { ok: false; error: string };

export function checkedSender<M>(parse: (raw: unknown) => Checked<M>): (message: M) => void {
  return (message) => {
    const checked = parse(message);
    if (!checked.ok) {
      console.error(checked.error);
      return;
    }
    vscode.postMessage(checked.message);
  };
}
