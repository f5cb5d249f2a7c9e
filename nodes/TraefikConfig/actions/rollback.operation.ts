import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
} from 'n8n-workflow';

import { itemsFrom } from '../../shared/items';
import { withSsh } from '../../shared/ssh';
import { rollbackFile } from '../deploy';
import { folderOf, sshOf, verifyOf } from './common';
import { outcomeFinding } from './deploy.operation';

const op = 'rollback';

export const description: INodeProperties[] = [
	{
		displayName: 'File Name',
		name: 'rollbackFileName',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'routers.yml',
		displayOptions: { show: { operation: [op] } },
	},
	{
		displayName: 'Version',
		name: 'version',
		type: 'string',
		default: 'latest',
		description:
			'"latest" restores the newest kept version that differs from the current file; or a kept file name such as routers.yml.20261127T101500000Z.bak',
		displayOptions: { show: { operation: [op] } },
	},
];

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[]> {
	return await itemsFrom(this, async (i) => {
		const options = this.getNodeParameter('deployOptions', i, {}) as IDataObject;
		const conn = await sshOf(this, i);
		const folder = folderOf(this, i);
		const verify = await verifyOf(this, i);
		const outcome = await withSsh(
			conn,
			async (s) =>
				await rollbackFile(s, folder, this.getNodeParameter('rollbackFileName', i) as string, {
					version: this.getNodeParameter('version', i) as string,
					behindProxy: options.behindProxy === true,
					verify,
					lockOwner: `n8n execution ${this.getExecutionId() ?? '?'}`,
				}),
		);
		return [
			outcomeFinding(outcome, conn.host, 'traefik-rollback', {
				restoredFrom: outcome.restoredFrom,
			}),
		];
	});
}
