// The verification layer's public surface (see runner.ts for the entry points).
export { runCriterion, runCriteria, summarize, bound, verificationRecordedData, type RunCriteriaOptions } from './runner';
export { parseJUnit, decodeXmlBytes } from './junit';
export { parseTap } from './tap';
export { ReportParseError, type ParsedReport, type TestCase, type TestCaseStatus, type TestProblem, type TestLocation, type TestTotals } from './report';
export { findBrowser, waitForPort, BrowserNotFoundError, CHROMIUM_FLAGS, BROWSER_CANDIDATES } from './screenshot';
export { startProcess, runProcess, CapturedOutput, type ProcessOptions, type ProcessResult, type RunningProcess } from './process';
export { resolveInside, matchWorkspaceFiles, PathOutsideWorkspaceError } from './paths';
export * from './ports';
