// TLS endpoints for the certificate benchmarks: a self-signed P-256 certificate (60 days) served on
// `count` loopback ports by a child process, so serving costs none of the measured process's CPU.
const { execFileSync, fork } = require('node:child_process');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

/** Starts the endpoints; `silent` adds one port that accepts and never answers (a hung endpoint). */
async function startTlsEndpoints(dir, count, { silent = false } = {}) {
	const cert = join(dir, 'cert.pem');
	const key = join(dir, 'key.pem');
	// prettier-ignore
	execFileSync('openssl', [
		'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
		'-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '60',
		'-keyout', key, '-out', cert,
	], { stdio: 'ignore' });
	const child = fork(__filename, ['serve', cert, key, String(count), String(silent)], {
		stdio: 'inherit',
	});
	const ready = await new Promise((resolve, reject) => {
		child.once('message', resolve);
		child.once('exit', (code) => reject(new Error(`the TLS endpoints exited with ${code}`)));
	});
	return { ...ready, ca: readFileSync(cert, 'utf8'), pid: child.pid, stop: () => child.kill() };
}

function serve([cert, key, count, silent]) {
	const tls = require('node:tls');
	const net = require('node:net');
	const options = { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
	(async () => {
		const ports = [];
		for (let i = 0; i < Number(count); i++) {
			const server = tls.createServer(options, (socket) => socket.end());
			await new Promise((r) => server.listen(0, '127.0.0.1', r));
			ports.push(server.address().port);
		}
		let silentPort;
		if (silent === 'true') {
			const hung = net.createServer(() => undefined);
			await new Promise((r) => hung.listen(0, '127.0.0.1', r));
			silentPort = hung.address().port;
		}
		process.send({ ports, silent: silentPort });
	})();
}

if (require.main === module && process.argv[2] === 'serve') serve(process.argv.slice(3));

module.exports = { startTlsEndpoints };
