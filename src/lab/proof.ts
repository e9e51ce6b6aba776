// Maps the scenarios' results onto the seed: for every statement of the catalog, whether the lab
// proved it (with the flows that prove it) or why a lab cannot show it.
import type { Catalog, Rule } from '../catalog/model.js';
import type { FlowRecord } from '../flow/record.js';
import { flowHost, packetRef } from './evidence.js';
import { standInHosts } from './plan.js';
import type { ScenarioResult } from './scenarios.js';

export interface StatementProof {
  id: string;
  proven: boolean;
  evidence: string[];
  note: string;
}

/** Catalog notes: what proves each in a lab, or why nothing can. */
const noteProofs: Record<string, { by?: (results: ScenarioMap) => string[] | null; why?: string }> = {
  'note.paths': {
    by: (r) => {
      const checks = r.baseline?.checks.filter((c) =>
        [
          'the circuit uplink carries every circuit-bound host',
          'no circuit-bound byte on the Internet uplink',
        ].includes(c.name),
      );
      return checks && checks.length === 2 && checks.every((c) => c.passed)
        ? checks.map((c) => `baseline: ${c.name}: ${c.detail}`)
        : null;
    },
  },
  'note.exception': {
    by: (r) => {
      const leak = r['leaky-client']?.checks.find((c) =>
        c.name.startsWith('the audit of the Internet capture finds'),
      );
      const exceptions = r.baseline?.checks.find(
        (c) => c.name === 'the Internet uplink carries every documented exception',
      );
      return leak?.passed && exceptions?.passed
        ? [`baseline: ${exceptions.detail}`, `leaky-client: leaks found: ${leak.detail}`]
        : null;
    },
  },
  'note.references': {
    why: 'a pointer to ExpressRoute documentation and sign-up, not a statement about traffic',
  },
  'note.peering': {
    why: 'the peering type and BGP route filter are properties of the real circuit; the lab models the circuit as a link that carries the advertised prefix',
  },
};

type ScenarioMap = Partial<Record<ScenarioResult['name'], ScenarioResult>>;

/** Evidence that a rule holds: a gateway record on the rule's path and the same host on that uplink's capture. */
function ruleEvidence(rule: Rule, baseline: ScenarioResult | undefined): string[] {
  if (!baseline) return [];
  const evidence: string[] = [];
  for (const flow of baseline.gatewayFlows.filter((f) => f.ruleId === rule.id)) {
    if (rule.id === 'mobile.not-covered' || flow.verdict === 'not-covered') {
      if (flow.verdict === 'not-covered')
        evidence.push(
          `gateway: ${flow.component} ${flow.host} from ${flow.client}: verdict not-covered, ${flow.outcome} (${flow.error})`,
        );
      continue;
    }
    if (flow.outcome !== 'forwarded' || !flow.egressPath) continue;
    const uplink = flow.egressPath === 'expressroute' ? 'circuit' : 'internet';
    const captured = baseline.audits[uplink]?.flows.find((f: FlowRecord) => flowHost(f) === flow.host);
    if (!captured) continue;
    evidence.push(
      `gateway: ${flow.component} ${flow.host} -> ${flow.egressPath} (${flow.actualPathEvidence}, verdict ${flow.verdict}); capture ${packetRef(captured)} on the ${uplink} uplink`,
    );
  }
  return evidence;
}

export function proveStatements(catalog: Catalog, results: readonly ScenarioResult[]): StatementProof[] {
  const byName: ScenarioMap = Object.fromEntries(results.map((r) => [r.name, r]));
  const rules = new Map(catalog.rules.map((rule) => [rule.id, rule]));
  return catalog.statements.map((statement) => {
    const evidence: string[] = [];
    const notes: string[] = [];
    let proven = true;
    for (const id of statement.rules) {
      const rule = rules.get(id);
      if (!rule) {
        const note = noteProofs[id];
        const shown = note?.by?.(byName) ?? null;
        if (shown) evidence.push(...shown);
        else {
          proven = false;
          notes.push(
            `${id}: ${note?.why ?? (note?.by ? 'its scenarios did not run or did not pass' : 'no lab check for this note')}`,
          );
        }
        continue;
      }
      const found = ruleEvidence(rule, byName.baseline);
      if (found.length === 0) {
        proven = false;
        notes.push(`${id}: no flow proves it${byName.baseline ? '' : ' (baseline did not run)'}`);
      }
      evidence.push(...found.map((line) => `${id}: ${line}`));
      const standIn = standInHosts[id];
      if (standIn && found.length > 0)
        notes.push(`${id}: the source names no host; shown with the stand-in host ${standIn}`);
    }
    return { id: statement.ref, proven, evidence, note: notes.join('; ') };
  });
}
