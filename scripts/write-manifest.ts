// Writes the backend settings of package.json (`factory.backends.*`) from the backend
// table (src/backends/catalog.ts), so the manifest never lists a backend by hand.
// `npm run manifest`; a unit test fails when the two disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { manifestSettings } from '../src/backends/catalog';

const file = join(__dirname, '..', 'package.json');
const manifest = JSON.parse(readFileSync(file, 'utf8')) as { contributes: { configuration: { properties: Record<string, unknown> } } };
const properties = manifest.contributes.configuration.properties;
const generated = manifestSettings();
const kept = Object.entries(properties).filter(([key]) => !key.startsWith('factory.backends.'));
// Backend settings go where they were: after `factory.startChange.*`, before the rest.
const at = kept.findIndex(([key]) => !key.startsWith('factory.startChange.'));
const ordered = [...kept.slice(0, at < 0 ? kept.length : at), ...Object.entries(generated), ...(at < 0 ? [] : kept.slice(at))];
manifest.contributes.configuration.properties = Object.fromEntries(ordered);
writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`package.json: ${Object.keys(generated).length} backend settings written from the backend table.`);
