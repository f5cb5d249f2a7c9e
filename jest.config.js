/** Two projects: `unit` needs nothing running; `integration` talks to real services that
 * test/harness starts once per run on loopback (dockerd, sshd, s3rver, PostgreSQL). */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.test.json' }];

/** @type {import('jest').Config} */
module.exports = {
	// Jest reads testTimeout only here, not per project (a project's own was silently ignored: 5 s
	// applied). Real services on a loaded 2-core machine: seen 5 s+ for a docker ping while 8 builds
	// ran; a hang still fails
	testTimeout: 120_000,
	projects: [
		{
			displayName: 'unit',
			testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
			transform: { '^.+\\.ts$': tsJest },
			testEnvironment: 'node',
		},
		{
			displayName: 'integration',
			testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
			transform: { '^.+\\.ts$': tsJest },
			testEnvironment: 'node',
			globalSetup: '<rootDir>/test/harness/globalSetup.ts',
			globalTeardown: '<rootDir>/test/harness/globalTeardown.ts',
		},
		// `npm run test:e2e` only (it sets INFRA_OPS_E2E): a real n8n with the packed package, and Chromium
		...(process.env.INFRA_OPS_E2E
			? [
					{
						displayName: 'e2e',
						testMatch: ['<rootDir>/test/e2e/**/*.e2e.test.ts'],
						transform: { '^.+\\.ts$': tsJest },
						testEnvironment: 'node',
						globalSetup: '<rootDir>/test/harness/globalSetup.ts',
						globalTeardown: '<rootDir>/test/harness/globalTeardown.ts',
					},
				]
			: []),
	],
};
