// DNS messages (RFC 1035 4.1): header, the question, and the A / AAAA / CNAME records of the
// answer section, with name compression. Pointers may point anywhere inside the message, so a
// bound on the number of jumps is what stops loops; names are capped at 255 bytes.
import { formatIp } from '../match/ip.js';

export const DnsType = { a: 1, cname: 5, aaaa: 28 } as const;

export interface DnsAnswer {
  /** Owner name of the record. */
  name: string;
  type: number;
  /** Address (A, AAAA) or target name (CNAME). */
  data: string;
}

export interface DnsMessage {
  id: number;
  response: boolean;
  rcode: number;
  /** Name and type of the first question; null when the message has none. */
  questionName: string | null;
  questionType: number;
  answers: DnsAnswer[];
  /** Why parsing stopped early (what was read before is kept); null when the message was whole. */
  error: string | null;
}

const HEADER_LENGTH = 12;
const MAX_NAME_LENGTH = 255;
const MAX_POINTER_JUMPS = 32;
/** Smallest resource record: root name, type, class, TTL, rdlength. */
const MIN_RECORD_LENGTH = 11;

/** Where the last name read ended in the message (after its pointer or final zero label). */
let nameEnd = 0;
/** Why the last name could not be read. */
let nameError = '';

/**
 * Reads the domain name at `at` in the message `msg[start, end)`. Returns it without a trailing
 * dot ('' for the root), or null (then `nameError` says why). Sets `nameEnd`.
 */
export function readName(msg: Buffer, start: number, end: number, at: number): string | null {
  let labels = '';
  let length = 0;
  let jumps = 0;
  let position = at;
  let resume = -1;
  for (;;) {
    if (position >= end) {
      nameError = 'name runs past the end of the message';
      return null;
    }
    const byte = msg[position] as number;
    if (byte === 0) {
      nameEnd = resume >= 0 ? resume : position + 1;
      return labels;
    }
    const kind = byte & 0xc0;
    if (kind === 0xc0) {
      if (position + 1 >= end) {
        nameError = 'compression pointer runs past the end of the message';
        return null;
      }
      if (++jumps > MAX_POINTER_JUMPS) {
        nameError = 'compression pointer loop';
        return null;
      }
      const target = start + (((byte & 0x3f) << 8) | (msg[position + 1] as number));
      if (resume < 0) resume = position + 2;
      if (target >= end) {
        nameError = 'compression pointer outside the message';
        return null;
      }
      position = target;
      continue;
    }
    if (kind !== 0) {
      nameError = 'unsupported label type';
      return null;
    }
    if (position + 1 + byte > end) {
      nameError = 'label runs past the end of the message';
      return null;
    }
    length += byte + 1;
    if (length > MAX_NAME_LENGTH) {
      nameError = 'name longer than 255 bytes';
      return null;
    }
    const label = msg.toString('latin1', position + 1, position + 1 + byte);
    labels = labels.length === 0 ? label : `${labels}.${label}`;
    position += 1 + byte;
  }
}

/** Parses the DNS message in `msg[start, end)`; null when it is too short for a header. */
export function parseDnsMessage(msg: Buffer, start: number, end: number): DnsMessage | null {
  if (end - start < HEADER_LENGTH) return null;
  const flags = msg.readUInt16BE(start + 2);
  const message: DnsMessage = {
    id: msg.readUInt16BE(start),
    response: (flags & 0x8000) !== 0,
    rcode: flags & 0x000f,
    questionName: null,
    questionType: 0,
    answers: [],
    error: null,
  };
  const questions = msg.readUInt16BE(start + 4);
  const answers = msg.readUInt16BE(start + 6);
  let at = start + HEADER_LENGTH;
  for (let i = 0; i < questions; i++) {
    const name = readName(msg, start, end, at);
    if (name === null) return withError(message, `question: ${nameError}`);
    at = nameEnd;
    if (end - at < 4) return withError(message, 'question runs past the end of the message');
    if (i === 0) {
      message.questionName = name;
      message.questionType = msg.readUInt16BE(at);
    }
    at += 4;
  }
  // Each record is at least 11 bytes, which bounds the loop whatever the count says.
  const possible = Math.min(answers, Math.floor((end - at) / MIN_RECORD_LENGTH));
  for (let i = 0; i < possible; i++) {
    const name = readName(msg, start, end, at);
    if (name === null) return withError(message, `answer: ${nameError}`);
    at = nameEnd;
    if (end - at < 10) return withError(message, 'answer runs past the end of the message');
    const type = msg.readUInt16BE(at);
    const dataLength = msg.readUInt16BE(at + 8);
    at += 10;
    if (end - at < dataLength) return withError(message, 'answer data runs past the end of the message');
    if (type === DnsType.a && dataLength === 4) {
      message.answers.push({ name, type, data: formatIp({ version: 4, bytes: msg.subarray(at, at + 4) }) });
    } else if (type === DnsType.aaaa && dataLength === 16) {
      message.answers.push({ name, type, data: formatIp({ version: 6, bytes: msg.subarray(at, at + 16) }) });
    } else if (type === DnsType.cname) {
      const target = readName(msg, start, at + dataLength, at);
      if (target === null) return withError(message, `CNAME: ${nameError}`);
      message.answers.push({ name, type, data: target });
    }
    at += dataLength;
  }
  if (possible < answers) return withError(message, 'fewer answers than the header says');
  return message;
}

function withError(message: DnsMessage, error: string): DnsMessage {
  message.error = error;
  return message;
}

/**
 * Name -> address pairs a response teaches: each A / AAAA answer is attributed to the question
 * name when its owner is the question or reached from it through CNAMEs (what the client looked
 * up), else to its own owner name.
 */
export function* addressesOf(message: DnsMessage): Generator<[name: string, address: string]> {
  const question = message.questionName?.toLowerCase() ?? null;
  const aliases = new Set<string>();
  if (question !== null) aliases.add(question);
  for (const answer of message.answers) {
    if (answer.type === DnsType.cname && aliases.has(answer.name.toLowerCase())) {
      aliases.add(answer.data.toLowerCase());
    }
  }
  for (const answer of message.answers) {
    if (answer.type !== DnsType.a && answer.type !== DnsType.aaaa) continue;
    const owner = answer.name.toLowerCase();
    yield [
      question !== null && aliases.has(owner) ? (message.questionName as string) : answer.name,
      answer.data,
    ];
  }
}
