// `factory-tree:/<workspace-relative path>?<tree hash>`: a file as it was in a git tree,
// read-only. The transcript's file links and the review's diffs open these documents;
// the workbench registers the provider at start, so either can open one first.
import * as vscode from 'vscode';
import { workspaceRelative } from '../engine/viewModels';

export const TREE_SCHEME = 'factory-tree';
const HEX_TREE = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

export interface TreeDocumentsDeps {
  workspaceRoot: string;
  /** The bytes of `path` (workspace-relative) in git tree `tree`; undefined when the file is not in it. */
  readBlob?: (tree: string, path: string) => Promise<Buffer | undefined>;
}

export class TreeContentProvider implements vscode.TextDocumentContentProvider {
  constructor(private readonly deps: TreeDocumentsDeps) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const tree = uri.query;
    const relativePath = workspaceRelative(uri.path.replace(/^\/+/, ''), this.deps.workspaceRoot);
    if (!relativePath) throw new Error(`${uri.path} is not a path inside the workspace.`);
    if (!tree) return '';
    if (!HEX_TREE.test(tree)) throw new Error(`"${tree.slice(0, 80)}" is not a git tree hash.`);
    if (!this.deps.readBlob) throw new Error('Reading files from git trees is not available here.');
    const bytes = await this.deps.readBlob(tree, relativePath);
    // Absent from the start tree: the attempt created it.
    return bytes ? bytes.toString('utf8') : '';
  }
}

export function registerTreeDocuments(deps: TreeDocumentsDeps): vscode.Disposable {
  return vscode.workspace.registerTextDocumentContentProvider(TREE_SCHEME, new TreeContentProvider(deps));
}
