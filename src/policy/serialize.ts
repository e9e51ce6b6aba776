// JSON form of a Decision, written for streams of millions: the rule and reason part of a line
// depends only on the matched entry and verdict, so it is serialized once and reused.
import type { Decision, RuleRef } from './policy.js';

const tailCache = new WeakMap<RuleRef, Map<string, string>>();
const nullRuleTails = new Map<string, string>();

function tail(rule: RuleRef | null, reason: string): string {
  let cache: Map<string, string> | undefined;
  if (rule === null) {
    cache = nullRuleTails;
  } else {
    cache = tailCache.get(rule);
    if (cache === undefined) {
      cache = new Map();
      tailCache.set(rule, cache);
    }
  }
  let text = cache.get(reason);
  if (text === undefined) {
    text = `,"rule":${JSON.stringify(rule)},"reason":${JSON.stringify(reason)}}`;
    cache.set(reason, text);
  }
  return text;
}

/** One decision as a JSON object text (no trailing newline). Field order is stable. */
export function decisionToJson(decision: Decision): string {
  return (
    `{"input":${JSON.stringify(decision.input)},"host":${JSON.stringify(decision.host)},` +
    `"component":"${decision.component}","port":${decision.port},"path":"${decision.path}",` +
    `"actualPath":"${decision.actualPath}","verdict":"${decision.verdict}"${tail(decision.rule, decision.reason)}`
  );
}
