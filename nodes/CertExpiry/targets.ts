/** `host[:port]` targets, IPv6 in brackets, URLs tolerated (scheme → default port). */
import { isIP } from 'node:net';

import { InfraOpsError } from '../shared/errors';

export interface Target {
	host: string;
	port: number;
	/** `host:port`, `[v6]:port`: the finding's target. */
	label: string;
}

const SCHEME_PORTS: Record<string, number> = {
	https: 443,
	smtps: 465,
	smtp: 25,
	submission: 587,
	imap: 143,
	imaps: 993,
	pop3: 110,
	pop3s: 995,
	ftp: 21,
	postgres: 5432,
	postgresql: 5432,
	ldaps: 636,
};

export function formatTarget(host: string, port: number): string {
	return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

export function parseTarget(text: string, defaultPort = 443): Target {
	const raw = text.trim();
	const fail = (why: string): never => {
		throw new InfraOpsError(
			`"${text}" is not a valid target: ${why}`,
			'Write targets as host, host:port, [IPv6]:port or https://host[:port]',
		);
	};
	if (!raw) fail('it is empty');
	let rest = raw;
	let port = defaultPort;
	const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
	if (scheme) {
		const known = SCHEME_PORTS[scheme[1].toLowerCase()];
		if (!known) fail(`unknown scheme ${scheme[1]}`);
		port = known;
		rest = rest.slice(scheme[0].length).replace(/[/?#].*$/, '');
		rest = rest.replace(/^[^@]*@/, '');
	}
	let host: string;
	const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
	if (bracketed) {
		host = bracketed[1];
		if (bracketed[2]) port = Number(bracketed[2]);
	} else if (isIP(rest) === 6) {
		host = rest;
	} else {
		const parts = rest.split(':');
		if (parts.length > 2)
			fail('an IPv6 address with a port must be written in brackets, e.g. [::1]:443');
		host = parts[0];
		if (parts.length === 2) {
			if (!/^\d+$/.test(parts[1])) fail(`port "${parts[1]}" is not a number`);
			port = Number(parts[1]);
		}
	}
	if (!host) fail('the host is empty');
	if (/\s/.test(host)) fail('the host contains spaces');
	if (!isIP(host) && !/^[A-Za-z0-9_.-]+$/.test(host)) fail(`"${host}" is not a host name`);
	if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`port ${port} is out of range`);
	return { host, port, label: formatTarget(host, port) };
}

/** Targets separated by commas, spaces or new lines; `#` starts a comment. */
export function parseTargetList(text: string, defaultPort = 443): Target[] {
	return text
		.split(/\r?\n/)
		.map((line) => line.replace(/#.*$/, ''))
		.flatMap((line) => line.split(/[\s,]+/))
		.filter(Boolean)
		.map((t) => parseTarget(t, defaultPort));
}
