// Every field of one stored flow record, labelled, with the evidence for its path first: this is
// what an engineer quotes when proving where a connection went.
import type { StoredFlow } from '../api/types.js';
import { formatBytes, formatTime } from '../format.js';

type Field = [label: string, value: string | number | null | undefined];

export function FlowDetail({ flow, id, recordHref }: { flow: StoredFlow; id: string; recordHref?: string }) {
  const origin = `${flow.origin.kind}${flow.origin.file ? ` ${flow.origin.file}` : ''}${flow.origin.line ? `:${flow.origin.line}` : ''}`;
  const fields: Field[] = [
    ['Record', `#${flow.id}`],
    ['Verdict', flow.verdict],
    ['Reason', flow.reason],
    ['Expected path', flow.expectedPath],
    ['Actual path', flow.actualPath],
    ['Evidence', flow.actualPathEvidence],
    ['Egress path', flow.egressPath],
    ['Outcome', flow.outcome],
    ['Error', flow.error],
    ['Rule', flow.ruleId],
    ['Start', formatTime(flow.start)],
    ['End', formatTime(flow.end)],
    ['Client', flow.client],
    ['Host', flow.host],
    ['SNI', flow.sni],
    ['HTTP Host', flow.httpHost],
    [
      'Destination',
      flow.destination === null ? null : `${flow.destination}${flow.port ? ` port ${flow.port}` : ''}`,
    ],
    ['Protocol', flow.protocol],
    ['Component', flow.component],
    ['Bytes up', flow.bytesUp === null ? null : `${formatBytes(flow.bytesUp)} (${flow.bytesUp})`],
    ['Bytes down', flow.bytesDown === null ? null : `${formatBytes(flow.bytesDown)} (${flow.bytesDown})`],
    ['Source address', flow.sourceAddress],
    ['Upstream proxy', flow.upstream],
    ['Connect time', flow.connectMs === null || flow.connectMs === undefined ? null : `${flow.connectMs} ms`],
    ['Connection id', flow.connectionId],
    ['Origin', origin],
  ];
  return (
    <div class="flow-detail" id={id}>
      {recordHref && (
        <p>
          <a href={recordHref}>Open record #{flow.id} in Flows</a>
        </p>
      )}
      <dl>
        {fields
          .filter(([, value]) => value !== null && value !== undefined && value !== '' && value !== '–')
          .map(([label, value]) => (
            // The reason is a sentence with its citation: it gets a row of its own.
            <div key={label} class={label === 'Reason' ? 'span' : undefined}>
              <dt>{label}</dt>
              <dd>{value}</dd>
            </div>
          ))}
      </dl>
    </div>
  );
}
