/** The plaintext preambles that upgrade a connection to TLS (STARTTLS and friends). */
import type { Socket } from 'node:net';

import { InfraOpsError } from '../shared/errors';

export type StartTlsProtocol = 'none' | 'smtp' | 'imap' | 'pop3' | 'ftp' | 'postgres';

const BY_PORT: Record<number, StartTlsProtocol> = {
	25: 'smtp',
	587: 'smtp',
	143: 'imap',
	110: 'pop3',
	21: 'ftp',
	5432: 'postgres',
};

export function startTlsForPort(port: number): StartTlsProtocol {
	return BY_PORT[port] ?? 'none';
}

/** Reads CRLF-terminated lines from a socket until `done` accepts one. */
function readReply(
	socket: Socket,
	done: (line: string) => boolean,
	what: string,
): Promise<string[]> {
	return new Promise((resolve, reject) => {
		let buffer = '';
		const lines: string[] = [];
		const cleanup = () => {
			socket.off('data', onData);
			socket.off('close', onClose);
			socket.off('error', onError);
		};
		const onData = (chunk: Buffer) => {
			buffer += chunk.toString('latin1');
			let index: number;
			while ((index = buffer.indexOf('\n')) >= 0) {
				const line = buffer.slice(0, index).replace(/\r$/, '');
				buffer = buffer.slice(index + 1);
				lines.push(line);
				if (done(line)) {
					cleanup();
					return resolve(lines);
				}
			}
			if (buffer.length > 64 * 1024) {
				cleanup();
				reject(new InfraOpsError(`${what}: the server sent an overlong line`));
			}
		};
		const onClose = () => {
			cleanup();
			reject(
				new InfraOpsError(
					`${what}: the server closed the connection (last said: ${lines.at(-1) ?? 'nothing'})`,
				),
			);
		};
		const onError = (error: Error) => {
			cleanup();
			reject(error);
		};
		socket.on('data', onData);
		socket.once('close', onClose);
		socket.once('error', onError);
	});
}

function expectLine(lines: string[], pattern: RegExp, what: string): void {
	const last = lines.at(-1) ?? '';
	if (!pattern.test(last))
		throw new InfraOpsError(
			`${what}: unexpected answer "${last.slice(0, 200)}"`,
			'Check the port speaks this protocol, or set STARTTLS to the right one (or None for direct TLS)',
		);
}

/** Smtp/FTP replies end with a line "NNN text" (a dash after the code means more lines follow). */
const finalReply = (line: string) => /^\d{3}(?: |$)/.test(line);

export async function negotiateStartTls(socket: Socket, protocol: StartTlsProtocol): Promise<void> {
	const what = `${protocol.toUpperCase()} STARTTLS`;
	switch (protocol) {
		case 'none':
			return;
		case 'smtp': {
			expectLine(await readReply(socket, finalReply, what), /^220/, what);
			socket.write('EHLO infra-ops.local\r\n');
			const ehlo = await readReply(socket, finalReply, what);
			expectLine(ehlo, /^250/, what);
			if (!ehlo.some((l) => /^250[- ]STARTTLS\b/i.test(l))) {
				throw new InfraOpsError(
					`${what}: the server does not offer STARTTLS`,
					'The server has no TLS on this port; check a submission port (587) or implicit TLS (465, STARTTLS None)',
				);
			}
			socket.write('STARTTLS\r\n');
			expectLine(await readReply(socket, finalReply, what), /^220/, what);
			return;
		}
		case 'imap': {
			expectLine(await readReply(socket, (l) => /^\* /.test(l), what), /^\* (OK|PREAUTH)/i, what);
			socket.write('a1 STARTTLS\r\n');
			expectLine(await readReply(socket, (l) => /^a1 /i.test(l), what), /^a1 OK/i, what);
			return;
		}
		case 'pop3': {
			expectLine(await readReply(socket, () => true, what), /^\+OK/, what);
			socket.write('STLS\r\n');
			expectLine(await readReply(socket, () => true, what), /^\+OK/, what);
			return;
		}
		case 'ftp': {
			expectLine(await readReply(socket, finalReply, what), /^220/, what);
			socket.write('AUTH TLS\r\n');
			expectLine(await readReply(socket, finalReply, what), /^234/, what);
			return;
		}
		case 'postgres': {
			// SSLRequest: length 8, code 80877103; the server answers one byte, S or N
			const request = Buffer.alloc(8);
			request.writeInt32BE(8, 0);
			request.writeInt32BE(80877103, 4);
			const answer = await new Promise<string>((resolve, reject) => {
				const onData = (chunk: Buffer) => {
					socket.off('error', reject);
					socket.off('data', onData);
					if (chunk.length > 1) socket.unshift(chunk.subarray(1));
					resolve(String.fromCharCode(chunk[0]));
				};
				socket.on('data', onData);
				socket.once('error', reject);
				socket.write(request);
			});
			if (answer === 'N')
				throw new InfraOpsError(`${what}: the server does not accept TLS (ssl = off)`);
			if (answer !== 'S')
				throw new InfraOpsError(
					`${what}: unexpected answer to SSLRequest`,
					'Is this a PostgreSQL port?',
				);
			return;
		}
		default:
			throw new InfraOpsError(`Unknown STARTTLS protocol "${String(protocol)}"`);
	}
}
