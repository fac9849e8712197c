// The version every `--json` output names (schemas.ts documents the shapes). Its own
// module, so printing an output does not build the schemas that describe it.
export const OUTPUT_VERSION = 1;
