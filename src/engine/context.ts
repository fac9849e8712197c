// The context pack's use cases that read the workspace, for every surface: what the
// pack holds against the files as they are now, the project's convention files, a
// selection's text as the pack stores it. The pack itself is the factory's
// ContextPackStore (factory.context).
export { currentHashes, detectConventions, sliceRange, ContextInputError, type PackEdit, type DetectedConvention } from '../store/contextPackStore';
export type { ContextPackStore } from '../store/contextPackStore';
