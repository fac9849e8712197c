// The pure models the editor's surfaces render, handed to ui/ by the engine: the
// context pack's fold and staleness, the transcript model, and the typed messages
// between a webview and its host. ui/ reaches the factory through engine/ only.
export { assessStaleness, foldContextPack, isDiskBacked, normalizeWorkspacePath } from '../core/contextPack';
export { parseHostMessage, parseWebviewMessage } from '../core/contextPanelProtocol';
export { coalesceOps } from '../core/transcriptEntries';
export { TranscriptModel, workspaceRelative } from '../core/transcriptModel';
export { parseTranscriptHostMessage, parseTranscriptWebviewMessage } from '../core/transcriptProtocol';
export { plainDetail, plainLabel, plainMarkdown, plainMessage } from '../core/safeText';
export { mcpSummary } from '../core/mcpSummary';
