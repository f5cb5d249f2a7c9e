/**
 * HTTPS in front of a test S3 server (fauxqs). restic's S3 client (minio-go) signs uploads over plain
 * HTTP with the chunked "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" encoding, which neither s3rver nor fauxqs
 * decodes (they store the chunk headers inside the object); over HTTPS it sends plain bodies, as it
 * does against real S3. Each request passes `onRequest` first, so a test can hold one back or stop
 * the server at a chosen request (a deterministic point, not a timer).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

import { makeCertificates } from './tls';

export interface S3TlsFront {
	endpoint: string;
	caPem: string;
	/** Request body bytes forwarded so far (what clients uploaded through the front). */
	uploadedBytes: number;
	/** Called before a request is forwarded; it may wait (the request waits with it). */
	onRequest?: (req: { method: string; url: string }) => Promise<void> | void;
	close(): Promise<void>;
}

export async function startS3TlsFront(upstream: string): Promise<S3TlsFront> {
	const certs = await makeCertificates();
	const target = new URL(upstream);
	const front: S3TlsFront = {
		endpoint: '',
		caPem: certs.ca.certPem,
		uploadedBytes: 0,
		close: async () => {
			server.closeAllConnections();
			await new Promise((r) => server.close(r));
		},
	};
	const server = https.createServer(
		{ key: certs.leaf.keyPem, cert: certs.leaf.fullchainPem },
		(req, res) => {
			void (async () => {
				try {
					await front.onRequest?.({ method: req.method ?? '', url: req.url ?? '' });
				} catch {
					res.destroy();
					return;
				}
				const out = http.request(
					{
						host: target.hostname,
						port: target.port,
						method: req.method,
						path: req.url,
						headers: req.headers,
					},
					(up) => {
						res.writeHead(up.statusCode ?? 502, up.headers);
						up.pipe(res);
					},
				);
				// the server is gone: cut the client's connection as a dead server would
				out.on('error', () => res.destroy());
				req.on('data', (chunk: Buffer) => (front.uploadedBytes += chunk.length));
				req.pipe(out);
			})();
		},
	);
	await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
	front.endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
	return front;
}
