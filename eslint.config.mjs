import { n8nCommunityNodesPlugin } from '@n8n/eslint-plugin-community-nodes';
import jsoncParser from 'jsonc-eslint-parser';
import tseslint from 'typescript-eslint';

/** The only files under nodes/ that may import n8n: node files, their operations and methods, and
 * the shared adapter files (items, router, errors, locks' owner, credential tests and fields). */
const N8N_FACING = [
	'nodes/**/*.node.ts',
	'nodes/**/actions/**/*.ts',
	'nodes/**/methods/**/*.ts',
	'nodes/shared/items.ts',
	'nodes/shared/router.ts',
	'nodes/shared/nodeErrors.ts',
	'nodes/shared/nodeLocks.ts',
	'nodes/shared/credentialTests.ts',
	'nodes/shared/tlsCredentialFields.ts',
	'nodes/shared/nodeCredentials.ts',
	'nodes/shared/nodeState.ts',
	'nodes/shared/postgresCredentialFields.ts',
];

export default tseslint.config(
	{
		ignores: [
			'dist/**',
			'node_modules/**',
			'coverage/**',
			'test-output/**',
			'.n8n-dev/**',
			'.n8n-dev-queue/**',
			'gulpfile.js',
			'jest.config.js',
		],
	},
	{
		files: ['**/*.ts'],
		extends: [tseslint.configs.recommended],
	},
	{
		files: ['credentials/**/*.ts', 'nodes/**/*.ts', 'package.json'],
		...n8nCommunityNodesPlugin.configs.recommendedWithoutN8nCloudSupport,
		rules: {
			...n8nCommunityNodesPlugin.configs.recommendedWithoutN8nCloudSupport.rules,
			// The pack talks to Docker, SSH, S3 and PostgreSQL, so it ships pure-JS runtime dependencies
			// (it is a self-hosted pack, not an n8n Cloud verified node)
			'@n8n/community-nodes/no-runtime-dependencies': 'off',
		},
	},
	{
		files: ['package.json'],
		languageOptions: { parser: jsoncParser },
	},
	{
		// Domain modules and shared transports throw InfraOpsError with a hint; node files turn it
		// into a NodeOperationError (toNodeError), so the n8n rule asking for NodeApiError is off here
		files: ['nodes/**/*.ts'],
		ignores: N8N_FACING,
		rules: {
			'@n8n/community-nodes/require-node-api-error': 'off',
			'no-restricted-imports': [
				'error',
				{
					paths: ['n8n-workflow', 'n8n-core'].map((name) => ({
						name,
						message:
							'Domain modules and shared transports stay free of n8n, so they are testable without it and the n8n-facing layer stays thin: take plain values, throw InfraOpsError with a hint, and adapt in the node file, actions/ or the adapter (nodes/shared/items.ts, router.ts, nodeErrors.ts).',
					})),
					patterns: [
						{
							group: ['n8n-workflow/*', 'n8n-core/*', '@n8n/*'],
							message:
								'Domain modules and shared transports stay free of n8n: adapt in the node file, actions/ or the adapter.',
						},
					],
				},
			],
		},
	},
	{
		files: ['test/**/*.ts', 'bench/**/*.ts'],
		rules: { '@typescript-eslint/no-require-imports': 'off' },
	},
);
