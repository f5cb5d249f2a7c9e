/**
 * Loaded into the e2e n8n with NODE_OPTIONS=--require: TLS connections to the hosts named in
 * INFRA_OPS_E2E_TLS_REDIRECT ({"slack.com:443": "127.0.0.1:40123", ...}) go to a local sink instead.
 * Only the TCP destination changes: the handshake still names and verifies the real host name, against a
 * certificate from the suite's test CA (trusted through NODE_EXTRA_CA_CERTS). This is a hosts-file entry
 * scoped to one process tree, without touching the machine or needing port 443.
 */
'use strict';
const tls = require('node:tls');

const map = JSON.parse(process.env.INFRA_OPS_E2E_TLS_REDIRECT || '{}');
if (Object.keys(map).length > 0) {
	const connect = tls.connect;
	tls.connect = function redirectedConnect(...args) {
		const options = args[0];
		if (options && typeof options === 'object' && typeof options.host === 'string') {
			const to = map[`${options.host}:${options.port || 443}`];
			if (to) {
				const i = to.lastIndexOf(':');
				args[0] = {
					...options,
					host: to.slice(0, i),
					port: Number(to.slice(i + 1)),
					servername: options.servername || options.host,
				};
			}
		}
		return connect.apply(this, args);
	};
}
