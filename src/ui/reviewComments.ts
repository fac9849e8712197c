// Comments on a line of an attempt's diff through VS Code's Comments API: on either
// side of the diff editor the review opens (`factory-tree:/<path>?<tree>` documents),
// a reviewer adds a comment; it is recorded as a `review.commented` event naming the
// attempt, the path, the side, the line and the tree, and shown again as a thread
// whenever the change's review is opened (in this window or another, or after reload).
import * as vscode from 'vscode';
import { notify } from './surface';
import type { AttemptStep, ReviewComment } from '../core/review';
import type { Factory } from '../engine/factory';
import type { ReviewSession } from '../engine/review';
import { plainDetail } from '../engine/reviewView';
import { TREE_SCHEME } from './treeDocuments';

export const COMMENT_CONTROLLER_ID = 'factory.review';

interface PanelLike {
  session: ReviewSession;
  ref: string | undefined;
  reload(): Promise<void>;
}

class RecordedComment implements vscode.Comment {
  readonly mode = vscode.CommentMode.Preview;
  readonly body: vscode.MarkdownString | string;
  readonly author: vscode.CommentAuthorInformation;
  readonly label: string | undefined;
  readonly timestamp: Date;
  readonly contextValue = 'recorded';
  constructor(comment: ReviewComment) {
    // Untrusted text: a plain string is rendered as text, never as markdown.
    this.body = plainDetail(comment.body, 20_000);
    this.author = { name: comment.by?.name ?? 'unknown' };
    this.label = comment.committedBy && comment.committedBy.name !== comment.by?.name ? `committed by ${comment.committedBy.name}` : undefined;
    this.timestamp = new Date(comment.at);
  }
}

export class ReviewComments implements vscode.Disposable {
  private readonly controller: vscode.CommentController;
  /** comment event id → its thread, so a reload does not draw it twice. */
  private readonly threads = new Map<string, vscode.CommentThread>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly factory: Factory,
    private readonly log: vscode.LogOutputChannel,
    private readonly panels: () => Iterable<PanelLike>,
  ) {
    this.controller = vscode.comments.createCommentController(COMMENT_CONTROLLER_ID, 'Factory Review');
    this.controller.options = { prompt: 'Comment on this line (recorded in the change’s review)', placeHolder: 'What should the author know?' };
    this.controller.commentingRangeProvider = {
      provideCommentingRanges: (doc) => (doc.uri.scheme === TREE_SCHEME && this.attemptOf(doc.uri) ? [new vscode.Range(0, 0, Math.max(0, doc.lineCount - 1), 0)] : []),
    };
    this.disposables.push(this.controller, vscode.commands.registerCommand('factory.review.addComment', (reply: vscode.CommentReply) => this.add(reply)));
  }

  /** The open review and attempt a diff side belongs to: its tree is the attempt's start or end. */
  private attemptOf(uri: vscode.Uri): { panel: PanelLike; step: AttemptStep; side: 'start' | 'end' } | undefined {
    const tree = uri.query;
    if (!tree) return undefined;
    const relativePath = uri.path.replace(/^\/+/, '');
    for (const panel of this.panels()) {
      if (panel.ref) continue;
      for (const step of panel.session.model.steps) {
        if (step.kind !== 'attempt' || !step.changedFiles.some((f) => f.path === relativePath)) continue;
        if (step.endTree === tree) return { panel, step, side: 'end' };
        if (step.startTree === tree) return { panel, step, side: 'start' };
      }
    }
    return undefined;
  }

  private async add(reply: vscode.CommentReply): Promise<void> {
    const target = this.attemptOf(reply.thread.uri);
    try {
      if (!target) throw new Error('This file is not part of an open review: open the change with Factory: Review Change first.');
      const line = (reply.thread.range?.start.line ?? 0) + 1;
      await this.factory.review.comment({
        changeId: target.panel.session.model.changeId,
        body: reply.text,
        stageId: target.step.stageId,
        attemptId: target.step.attemptId,
        path: reply.thread.uri.path.replace(/^\/+/, ''),
        line,
        side: target.side,
        tree: reply.thread.uri.query,
      });
      // The recorded comment comes back as its own thread from the record.
      reply.thread.dispose();
      await target.panel.reload();
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.log.error(`Review comment: ${text}`);
      void notify.error(`Factory: the comment was not recorded: ${text}`);
    }
  }

  /** Draws the recorded diff-line comments of a review as threads on their diff sides. */
  showThreads(session: ReviewSession): void {
    for (const comment of session.model.comments) {
      if (!comment.path || !comment.line || !comment.tree || this.threads.has(comment.id)) continue;
      const uri = vscode.Uri.from({ scheme: TREE_SCHEME, path: `/${comment.path}`, query: comment.tree });
      const line = comment.line - 1;
      const thread = this.controller.createCommentThread(uri, new vscode.Range(line, 0, line, 0), [new RecordedComment(comment)]);
      thread.label = 'Review';
      thread.canReply = true;
      thread.collapsibleState = vscode.CommentThreadCollapsibleState.Expanded;
      this.threads.set(comment.id, thread);
    }
  }

  /** How many recorded comments are drawn as threads (tests read it). */
  threadCount(): number {
    return this.threads.size;
  }

  dispose(): void {
    this.threads.forEach((t) => t.dispose());
    this.disposables.forEach((d) => d.dispose());
  }
}
