const path = require('node:path');
const { task, src, dest, parallel } = require('gulp');

// tsc emits only .js; n8n also needs the icons and codex (.node.json) files beside them
function copy(folder) {
	return () =>
		src([`${folder}/**/*.{png,svg}`, `${folder}/**/*.node.json`], { encoding: false }).pipe(
			dest(path.join('dist', folder)),
		);
}

task('build:icons', parallel(copy('nodes'), copy('credentials')));
