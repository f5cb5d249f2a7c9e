/** Imported first by tests that read n8n's log output: n8n's logger takes its level from the
 * environment when its config is first built, which can happen as n8n-core loads. */
process.env.N8N_LOG_LEVEL = 'debug';
export {};
