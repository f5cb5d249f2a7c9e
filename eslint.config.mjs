import { n8nCommunityNodesPlugin } from '@n8n/eslint-plugin-community-nodes';
import jsoncParser from 'jsonc-eslint-parser';
import tseslint from 'typescript-eslint';

export default tseslint.config(
	{
		ignores: [
			'dist/**',
			'node_modules/**',
			'coverage/**',
			'test-output/**',
			'.n8n-dev/**',
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
		// Domain modules and shared transports have no n8n import by design (DESIGN.md): they throw
		// InfraOpsError with a hint, and node files turn it into a NodeOperationError (toNodeError)
		files: ['nodes/**/*.ts'],
		ignores: ['nodes/**/*.node.ts', 'nodes/**/actions/**/*.ts', 'nodes/**/methods/**/*.ts'],
		rules: { '@n8n/community-nodes/require-node-api-error': 'off' },
	},
	{
		files: ['test/**/*.ts', 'bench/**/*.ts'],
		rules: { '@typescript-eslint/no-require-imports': 'off' },
	},
);
