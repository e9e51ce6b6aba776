// GET /api/exceptions: the documented exceptions in use, per rule (activity, citation) and
// destination. The grouping runs in the store when it can (FlowStore.groups); otherwise the flows
// are paged through query() up to a scan limit, and the answer says it is partial.
import type { Catalog, Rule } from '../../catalog/model.js';
import { FlowGrouper } from '../../store/query.js';
import type { FlowGroup, FlowQuery, FlowStore } from '../../store/store.js';
import type { ExceptionGroup, ExceptionsView } from '../api-contract.js';

/** The fallback reads at most this many exception flows (1000 per page). */
export const FALLBACK_SCAN_LIMIT = 50_000;

export async function exceptionsView(
  store: FlowStore,
  catalog: Catalog,
  range: Pick<FlowQuery, 'from' | 'to' | 'gateway'>,
): Promise<ExceptionsView> {
  const query: FlowQuery = { ...range, verdict: 'exception' };
  const { groups, total, partial } = store.groups
    ? { ...(await groupsInStore(store, query)), partial: false }
    : await groupsByScan(store, query);
  const rules = new Map<string, Rule>(catalog.rules.map((rule) => [rule.id, rule]));
  const byRule = new Map<string, ExceptionGroup>();
  for (const group of groups) {
    const key = group.ruleId ?? '';
    let entry = byRule.get(key);
    if (entry === undefined) {
      const rule = group.ruleId === null ? undefined : rules.get(group.ruleId);
      entry = {
        ruleId: group.ruleId,
        activity: rule?.activity ?? null,
        path: rule?.path ?? null,
        source: rule?.source ?? null,
        flows: 0,
        bytes: 0,
        destinations: [],
      };
      byRule.set(key, entry);
    }
    entry.flows += group.flows;
    entry.bytes += group.bytesUp + group.bytesDown;
    entry.destinations.push({
      host: group.host ?? '(no host)',
      flows: group.flows,
      bytesUp: group.bytesUp,
      bytesDown: group.bytesDown,
      lastSeen: group.lastSeen,
    });
  }
  const sorted = [...byRule.values()].sort(
    (a, b) => b.flows - a.flows || (a.ruleId ?? '').localeCompare(b.ruleId ?? ''),
  );
  for (const group of sorted)
    group.destinations.sort((a, b) => b.flows - a.flows || a.host.localeCompare(b.host));
  return { groups: sorted, flows: total, partial };
}

async function groupsInStore(
  store: FlowStore,
  query: FlowQuery,
): Promise<{ groups: FlowGroup[]; total: number }> {
  const groups = (await store.groups?.(query)) ?? [];
  return { groups, total: groups.reduce((sum, group) => sum + group.flows, 0) };
}

async function groupsByScan(
  store: FlowStore,
  query: FlowQuery,
): Promise<{ groups: FlowGroup[]; total: number; partial: boolean }> {
  const grouper = new FlowGrouper();
  let offset = 0;
  let total = 0;
  for (;;) {
    const page = await store.query({ ...query, limit: 1000, offset });
    total = page.total;
    for (const flow of page.flows) grouper.add(flow);
    offset += page.flows.length;
    if (page.flows.length === 0 || offset >= page.total || offset >= FALLBACK_SCAN_LIMIT) break;
  }
  return { groups: grouper.groups(), total, partial: offset < total };
}
