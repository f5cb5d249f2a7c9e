#!/usr/bin/env node
/**
 * Names workflows/error-handler.json as the Error Workflow (`settings.errorWorkflow`) of every other
 * workflow in workflows/. Edits the text, not a re-serialised JSON, so the diff is the one added line
 * and other edits to the same files merge cleanly. Run after adding a workflow; `--check` only reports.
 */
const fs = require('node:fs');
const path = require('node:path');

const dir = path.join(__dirname, '..', 'workflows');
const HANDLER = 'error-handler.json';
const { id } = JSON.parse(fs.readFileSync(path.join(dir, HANDLER), 'utf8'));
if (!id) throw new Error(`${HANDLER} has no fixed "id"`);
const check = process.argv.includes('--check');

let missing = 0;
for (const file of fs
	.readdirSync(dir)
	.filter((f) => f.endsWith('.json') && f !== HANDLER)
	.sort()) {
	const full = path.join(dir, file);
	const text = fs.readFileSync(full, 'utf8');
	const settings = JSON.parse(text).settings;
	if (settings?.errorWorkflow === id) continue;
	missing++;
	if (check) {
		console.log(`${file}: settings.errorWorkflow is not ${id}`);
		continue;
	}
	if (settings?.errorWorkflow !== undefined)
		throw new Error(`${file}: settings.errorWorkflow is ${settings.errorWorkflow}: fix it by hand`);
	// top-level "settings" of a tab-indented export (prettier's format here)
	const open = /^\t"settings": \{\n/m;
	if (!open.test(text)) throw new Error(`${file}: no top-level "settings": { ... } object`);
	fs.writeFileSync(
		full,
		text.replace(open, (m) => `${m}\t\t"errorWorkflow": "${id}",\n`),
	);
	console.log(`${file}: settings.errorWorkflow = ${id}`);
}
if (check && missing) process.exitCode = 1;
