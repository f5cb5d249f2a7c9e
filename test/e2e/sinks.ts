/** Where alerts land in the end-to-end suite: a real SMTP server, and an HTTPS server standing in for Slack.
 * Both record what n8n sent, so a scenario can assert that an alert left n8n. */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

import { makeCertificates } from '../harness/services';

export interface ReceivedMail {
	from: string;
	to: string[];
	subject: string;
	text: string;
	/** The HTML body, only on mails that have one. */
	html?: string;
}

export interface ReceivedSlackMessage {
	channel: string;
	text: string;
	body: Record<string, unknown>;
}

export interface SmtpSink {
	host: string;
	port: number;
	messages: ReceivedMail[];
	close(): Promise<void>;
}

/**
 * Stands in for Slack's Web API over HTTPS, as the Slack node uses it: POST https://slack.com/api/chat.postMessage
 * with the bot token of the suite's slackApi credential. n8n reaches it under the real host name
 * (preload/redirect-tls.js) and verifies its certificate, issued by a test CA for slack.com, which n8n
 * trusts through NODE_EXTRA_CA_CERTS.
 */
export interface SlackSink {
	/** 127.0.0.1:<port> */
	address: string;
	/** Redirects for preload/redirect-tls.js. */
	redirects: Record<string, string>;
	/** The bot token the sink accepts (put in the suite's slackApi credential). */
	token: string;
	/** The CA that issued the sink's certificate. */
	caFile: string;
	messages: ReceivedSlackMessage[];
	/** Web API calls other than chat.postMessage, answered `{ ok: false, error: 'unknown_method' }`. */
	unknownCalls: string[];
	close(): Promise<void>;
}

export interface Sinks {
	smtp: SmtpSink;
	slack: SlackSink;
	close(): Promise<void>;
}

/** Plain SMTP on loopback (no STARTTLS, no AUTH), parsing each message with mailparser. */
export async function startSmtpSink(): Promise<SmtpSink> {
	const messages: ReceivedMail[] = [];
	const server = new SMTPServer({
		authOptional: true,
		disabledCommands: ['STARTTLS', 'AUTH'],
		logger: false,
		onData(stream, session, callback) {
			simpleParser(stream).then(
				(mail) => {
					messages.push({
						from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
						to: session.envelope.rcptTo.map((r) => r.address),
						subject: mail.subject ?? '',
						text: mail.text ?? '',
						...(typeof mail.html === 'string' ? { html: mail.html } : {}),
					});
					callback();
				},
				(err: Error) => callback(err),
			);
		},
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve());
	});
	const port = (server.server.address() as AddressInfo).port;
	return {
		host: '127.0.0.1',
		port,
		messages,
		close: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}

export async function startSlackSink(): Promise<SlackSink> {
	const certs = await makeCertificates({
		leaves: [
			{ commonName: 'slack.com', dnsNames: ['slack.com', 'localhost'], ipAddresses: ['127.0.0.1'] },
		],
	});
	const token = `xoxb-e2e-${randomBytes(12).toString('hex')}`;
	const messages: ReceivedSlackMessage[] = [];
	const unknownCalls: string[] = [];
	const server: Server = createServer(
		{ cert: certs.leaf.fullchainPem, key: certs.leaf.keyPem },
		(req, res) => {
			const chunks: Buffer[] = [];
			req.on('data', (c: Buffer) => chunks.push(c));
			req.on('end', () => {
				const json = (status: number, body: unknown) =>
					res
						.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
						.end(JSON.stringify(body));
				const raw = Buffer.concat(chunks).toString('utf8');
				let body: Record<string, unknown> = {};
				try {
					body = raw
						? (req.headers['content-type'] ?? '').includes('json')
							? JSON.parse(raw)
							: Object.fromEntries(new URLSearchParams(raw))
						: {};
				} catch {
					// answered below as Slack does
				}
				const url = new URL(req.url ?? '/', 'https://slack.com');
				if (req.headers.authorization !== `Bearer ${token}`)
					return json(200, { ok: false, error: 'invalid_auth' });
				if (url.pathname === '/api/chat.postMessage' && req.method === 'POST') {
					if (!body.channel) return json(200, { ok: false, error: 'channel_not_found' });
					if (typeof body.text !== 'string' && !body.blocks)
						return json(200, { ok: false, error: 'no_text' });
					messages.push({ channel: String(body.channel), text: String(body.text ?? ''), body });
					const ts = `${Math.floor(Date.now() / 1000)}.${String(messages.length).padStart(6, '0')}`;
					return json(200, {
						ok: true,
						channel: 'C0E2E0000',
						ts,
						message: { type: 'message', text: body.text, ts },
					});
				}
				unknownCalls.push(`${req.method} ${url.pathname}`);
				return json(200, { ok: false, error: 'unknown_method' });
			});
		},
	);
	const sockets = new Set<Socket>();
	server.on('connection', (s: Socket) => {
		sockets.add(s);
		s.once('close', () => sockets.delete(s));
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve());
	});
	const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
	return {
		address,
		redirects: { 'slack.com:443': address },
		token,
		caFile: certs.ca.certFile,
		messages,
		unknownCalls,
		close: () =>
			new Promise<void>((resolve) => {
				for (const s of sockets) s.destroy();
				server.close(() => resolve());
			}),
	};
}

export async function startSinks(): Promise<Sinks> {
	const [smtp, slack] = await Promise.all([startSmtpSink(), startSlackSink()]);
	return {
		smtp,
		slack,
		close: async () => void (await Promise.allSettled([smtp.close(), slack.close()])),
	};
}
