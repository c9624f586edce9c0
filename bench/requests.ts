// Lists, request by request, what each run of a saved benchmark result sent to the API server (from the audit
// log the run kept), to see where a contender's requests go before changing anything.
//
// Usage: node bench/requests.ts <result.json> <audit.log> [tool]
import { readFile } from 'node:fs/promises';
import { readAudit, requestsIn } from './audit.ts';
import { TOOL_AGENTS, type Tool } from './runners.ts';

interface SavedRun {
  tool: Tool;
  timing?: { start: number; endAt: number; namespace: string };
}

const [resultFile, auditFile, only] = process.argv.slice(2);
if (!resultFile || !auditFile) {
  process.stderr.write('usage: node bench/requests.ts <result.json> <audit.log> [tool]\n');
  process.exit(2);
}
const result = JSON.parse(await readFile(resultFile, 'utf8')) as { runs: SavedRun[] };
const audit = await readAudit(auditFile);
for (const run of result.runs) {
  if (!run.timing || (only && run.tool !== only)) continue;
  const rs = requestsIn(audit, {
    from: run.timing.start - 2,
    to: run.timing.endAt + 2,
    agents: TOOL_AGENTS[run.tool],
    namespace: run.timing.namespace,
  });
  process.stdout.write(`\n${run.tool} in ${run.timing.namespace}: ${rs.length} requests\n`);
  for (const r of rs) {
    const what = `${r.resource ?? r.uri}${r.subresource ? `/${r.subresource}` : ''}${r.name ? ` ${r.name}` : ''}`;
    process.stdout.write(
      `  +${String(Math.round(r.t - run.timing.start)).padStart(5)} ms ${r.verb.padEnd(6)} ${what.padEnd(44)} ${r.userAgent.slice(0, 40)}\n`,
    );
  }
}
