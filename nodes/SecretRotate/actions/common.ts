/** The secret's parameters, shared by Generate and Rotate. */
import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { DEFAULT_SYMBOLS, type CharacterClass, type SecretSpec } from '../generate';

export const secretProperties: INodeProperties[] = [
	{
		displayName: 'Secret Type',
		name: 'secretType',
		type: 'options',
		options: [
			{ name: 'Password', value: 'password', description: 'Letters, digits and (safe) symbols' },
			{ name: 'Token', value: 'token', description: 'Random bytes as hex or base64url' },
			{ name: 'SSH Key Pair', value: 'sshKey', description: 'OpenSSH private and public key' },
		],
		default: 'password',
	},
	{
		displayName: 'Length',
		name: 'passwordLength',
		type: 'number',
		typeOptions: { minValue: 8, maxValue: 1024 },
		default: 32,
		displayOptions: { show: { secretType: ['password'] } },
	},
	{
		displayName: 'Character Classes',
		name: 'characterClasses',
		type: 'multiOptions',
		options: [
			{ name: 'Lower Case', value: 'lower' },
			{ name: 'Upper Case', value: 'upper' },
			{ name: 'Digits', value: 'digits' },
			{ name: 'Symbols', value: 'symbols' },
		],
		default: ['lower', 'upper', 'digits'],
		description: 'Each selected class appears at least once',
		displayOptions: { show: { secretType: ['password'] } },
	},
	{
		displayName: 'Symbols',
		name: 'symbols',
		type: 'string',
		default: DEFAULT_SYMBOLS,
		description:
			'The symbols class. The default needs no quoting in .env files, shells or connection URLs (postgres://user:password@host).',
		displayOptions: { show: { secretType: ['password'] } },
	},
	{
		displayName: 'Exclude Ambiguous Characters',
		name: 'excludeAmbiguous',
		type: 'boolean',
		default: true,
		description: 'Whether to leave out characters that read alike: I l 1 O 0 o | ` \' "',
		displayOptions: { show: { secretType: ['password'] } },
	},
	{
		displayName: 'Bytes',
		name: 'tokenBytes',
		type: 'number',
		typeOptions: { minValue: 16, maxValue: 512 },
		default: 32,
		displayOptions: { show: { secretType: ['token'] } },
	},
	{
		displayName: 'Encoding',
		name: 'tokenEncoding',
		type: 'options',
		options: [
			{ name: 'Hex', value: 'hex' },
			{ name: 'Base64url', value: 'base64url' },
		],
		default: 'hex',
		displayOptions: { show: { secretType: ['token'] } },
	},
	{
		displayName: 'Key Algorithm',
		name: 'sshAlgorithm',
		type: 'options',
		options: [
			{ name: 'Ed25519', value: 'ed25519' },
			{ name: 'RSA 4096', value: 'rsa4096' },
		],
		default: 'ed25519',
		displayOptions: { show: { secretType: ['sshKey'] } },
	},
	{
		displayName: 'Key Comment',
		name: 'sshComment',
		type: 'string',
		default: 'n8n-infra-ops',
		description: 'Written after the public key, e.g. deploy@n8n',
		displayOptions: { show: { secretType: ['sshKey'] } },
	},
];

export function readSecretSpec(context: IExecuteFunctions, i: number): SecretSpec {
	const kind = context.getNodeParameter('secretType', i) as SecretSpec['kind'];
	if (kind === 'token') {
		return {
			kind,
			bytes: Number(context.getNodeParameter('tokenBytes', i, 32)),
			encoding: context.getNodeParameter('tokenEncoding', i, 'hex') as 'hex' | 'base64url',
		};
	}
	if (kind === 'sshKey') {
		return {
			kind,
			algorithm: context.getNodeParameter('sshAlgorithm', i, 'ed25519') as 'ed25519' | 'rsa4096',
			comment: context.getNodeParameter('sshComment', i, '') as string,
		};
	}
	return {
		kind: 'password',
		length: Number(context.getNodeParameter('passwordLength', i, 32)),
		classes: context.getNodeParameter('characterClasses', i, [
			'lower',
			'upper',
			'digits',
		]) as CharacterClass[],
		symbols: context.getNodeParameter('symbols', i, DEFAULT_SYMBOLS) as string,
		excludeAmbiguous: context.getNodeParameter('excludeAmbiguous', i, true) as boolean,
	};
}
