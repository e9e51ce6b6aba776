// A page of flow records; each row opens its full record in place (a disclosure button, so the
// keyboard and screen readers handle it like any other).
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { StoredFlow } from '../api/types.js';
import { formatBytes, formatTime } from '../format.js';
import { PathLabel, VerdictBadge } from './badges.js';
import { FlowDetail } from './flow-detail.js';
import { TableScroll } from './table-scroll.js';

interface Props {
  flows: StoredFlow[];
  label: string;
  /** Record to open on arrival (a link from another page). */
  openId?: number | undefined;
  /** Show the evidence column (leaks and blocked flows). */
  evidence?: boolean;
  /** Link from an opened row to the record on the Flows page. */
  recordHref?: (flow: StoredFlow) => string;
}

export function FlowTable({ flows, label, openId, evidence = false, recordHref }: Props) {
  const [open, setOpen] = useState<ReadonlySet<number>>(() => new Set(openId === undefined ? [] : [openId]));
  useEffect(() => {
    if (openId === undefined) return;
    setOpen(new Set([openId]));
    document.getElementById(`flow-${openId}`)?.scrollIntoView({ block: 'center' });
  }, [openId]);

  const toggle = (id: number) =>
    setOpen((previous) => {
      const next = new Set(previous);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  if (flows.length === 0) return <p class="muted">No flows match.</p>;
  const columns = evidence ? 9 : 8;
  return (
    <TableScroll label={label}>
      <table class="flows">
        <caption class="visually-hidden">{label}</caption>
        <thead>
          <tr>
            <th scope="col">Record</th>
            <th scope="col">Start</th>
            <th scope="col">Host</th>
            <th scope="col">Component</th>
            <th scope="col">Expected</th>
            <th scope="col">Took</th>
            <th scope="col">Verdict</th>
            {evidence && <th scope="col">Evidence</th>}
            <th scope="col" class="num">
              Bytes up / down
            </th>
          </tr>
        </thead>
        <tbody>
          {flows.map((flow) => {
            const isOpen = open.has(flow.id);
            const took = flow.egressPath ?? flow.actualPath;
            return (
              <Fragment key={flow.id}>
                <tr id={`flow-${flow.id}`} class={isOpen ? 'open' : undefined} data-flow-id={flow.id}>
                  <td>
                    <button
                      type="button"
                      class="link-button"
                      aria-expanded={isOpen}
                      aria-controls={`flow-detail-${flow.id}`}
                      onClick={() => toggle(flow.id)}
                    >
                      #{flow.id}
                    </button>
                  </td>
                  <td class="nowrap">{formatTime(flow.start)}</td>
                  <td class="host">{flow.host ?? flow.sni ?? flow.destination ?? '–'}</td>
                  <td>{flow.component ?? '–'}</td>
                  <td>
                    <PathLabel path={flow.expectedPath} />
                  </td>
                  <td>
                    <PathLabel path={took} />
                  </td>
                  <td>
                    <VerdictBadge verdict={flow.outcome === 'blocked' ? 'blocked' : flow.verdict} />
                  </td>
                  {evidence && (
                    <td class="evidence">
                      {flow.error ?? flow.actualPathEvidence ?? flow.sourceAddress ?? flow.upstream ?? '–'}
                    </td>
                  )}
                  <td class="num nowrap">
                    {formatBytes(flow.bytesUp)} / {formatBytes(flow.bytesDown)}
                  </td>
                </tr>
                {isOpen && (
                  <tr class="detail-row">
                    <td colSpan={columns}>
                      <FlowDetail flow={flow} id={`flow-detail-${flow.id}`} recordHref={recordHref?.(flow)} />
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </TableScroll>
  );
}
