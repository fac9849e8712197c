// Prints what each output of an esbuild build weighs (from the metafile the build wrote
// in dist/meta) and the five largest modules in it: where the bytes come from.
import { readFileSync } from 'node:fs';

export function printBundleReport(metafilePath, { label, top = 5 } = {}) {
  const meta = JSON.parse(readFileSync(metafilePath, 'utf8'));
  const outputs = Object.entries(meta.outputs).filter(([file]) => !file.endsWith('.map'));
  if (label) console.log(label);
  for (const [file, output] of outputs) {
    console.log(`  ${file.padEnd(44)} ${(output.bytes / 1024).toFixed(1).padStart(7)} KiB`);
    const largest = Object.entries(output.inputs)
      .map(([module, { bytesInOutput }]) => [module, bytesInOutput])
      .sort((a, b) => b[1] - a[1])
      .slice(0, top);
    for (const [module, bytes] of largest) console.log(`      ${(bytes / 1024).toFixed(1).padStart(7)} KiB  ${module}`);
  }
  return Object.fromEntries(outputs.map(([file, output]) => [file, output.bytes]));
}

/** The bytes an output loads before it runs: itself and every chunk it imports statically, transitively. */
export function staticClosureBytes(metafilePath, entry) {
  const { outputs } = JSON.parse(readFileSync(metafilePath, 'utf8'));
  const seen = new Set();
  const walk = (file) => {
    if (seen.has(file) || !outputs[file]) return;
    seen.add(file);
    for (const i of outputs[file].imports) if (i.kind === 'import-statement' && !i.external) walk(i.path);
  };
  walk(entry);
  return { files: [...seen], bytes: [...seen].reduce((sum, f) => sum + outputs[f].bytes, 0) };
}
