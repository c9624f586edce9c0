// A tool from PATH used without a checksum check reaches the log and the job summary.
import { describe, expect, it, vi } from 'vitest';
import { newOutcome } from '../../src/engine/outcome.ts';
import { installingTools } from '../../src/engine/tools.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { MemoryReporter } from '../../src/report/reporter.ts';
import { renderSummary } from '../../src/report/summary.ts';

vi.mock('../../src/tools/install.ts', () => ({
  installKubectl: async () => ({
    path: '/usr/local/bin/kubectl',
    version: '1.36.3',
    source: 'path',
    unverified: 'its official checksum could not be had (HTTP 404)',
  }),
  installHelm: async () => ({ path: '/usr/local/bin/helm', version: '3.22.0', source: 'path' }),
}));

const parsed = parseInputs({ namespace: 'mdcore', tag: '5.21.0' });
if (!parsed.ok) throw new Error('fixture inputs');
const plan = parsed.plan;

describe('tools used unverified', () => {
  it('are listed by the tool provider, once per tool, verified ones not', async () => {
    const tools = installingTools(plan, new MemoryReporter());
    expect(tools.unverified?.()).toEqual([]);
    await tools.kubectl();
    await tools.kubectl();
    await tools.helm();
    expect(tools.unverified?.()).toEqual([
      'kubectl 1.36.3 from PATH (/usr/local/bin/kubectl) was used unverified: its official checksum could not be had (HTTP 404)',
    ]);
  });

  it('are named in the job summary, and the summary says nothing when every tool was verified', () => {
    const o = newOutcome(plan, 0);
    expect(renderSummary(o)).not.toContain('without a checksum check');
    o.unverifiedTools = [
      'kubectl 1.36.3 from PATH (/usr/local/bin/kubectl) was used unverified: reason\nsecond line',
    ];
    const text = renderSummary(o);
    expect(text).toContain('> Tools found on PATH were used without a checksum check:');
    expect(text).toContain(
      '> - kubectl 1.36.3 from PATH (/usr/local/bin/kubectl) was used unverified: reason second line',
    );
  });
});
