// Small readers used by the report tests to check outputs without npm packages: an XML
// well-formedness checker (no DTDs, no namespaces beyond names) and an RFC 4180 CSV reader.
// Not used outside tests.

const name = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;
const reference = /^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/;

/** Problems that make `text` not well-formed XML 1.0 (empty when it is well-formed). */
export function checkWellFormedXml(text: string): string[] {
  const problems: string[] = [];
  let rest = text.replace(/^\uFEFF/, '');
  const declaration = /^<\?xml[^?]*\?>/.exec(rest);
  if (declaration) rest = rest.slice(declaration[0].length);
  const stack: string[] = [];
  let roots = 0;
  const checkText = (chunk: string, where: string) => {
    for (let i = chunk.indexOf('&'); i >= 0; i = chunk.indexOf('&', i + 1)) {
      if (!reference.test(chunk.slice(i)))
        problems.push(`bad reference in ${where}: ${chunk.slice(i, i + 12)}`);
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is checked
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(chunk))
      problems.push(`control character in ${where}`);
  };
  while (rest.length > 0 && problems.length === 0) {
    const lt = rest.indexOf('<');
    const textPart = lt < 0 ? rest : rest.slice(0, lt);
    if (stack.length === 0 && textPart.trim() !== '')
      problems.push(`text outside the root: ${textPart.slice(0, 20)}`);
    checkText(textPart, 'text');
    if (lt < 0) break;
    rest = rest.slice(lt);
    if (rest.startsWith('<!--')) {
      const end = rest.indexOf('-->');
      if (end < 0) problems.push('unterminated comment');
      rest = rest.slice(end + 3);
      continue;
    }
    if (rest.startsWith('<![CDATA[')) {
      const end = rest.indexOf(']]>');
      if (end < 0 || stack.length === 0) problems.push('bad CDATA section');
      rest = rest.slice(end + 3);
      continue;
    }
    if (rest.startsWith('</')) {
      const match = /^<\/([^\s>]+)\s*>/.exec(rest);
      const open = stack.pop();
      if (!match || match[1] !== open)
        problems.push(`closing tag ${match?.[1] ?? '?'} does not match ${open ?? 'nothing'}`);
      rest = rest.slice(match ? match[0].length : 2);
      continue;
    }
    const tagName = name.exec(rest.slice(1));
    if (!tagName) {
      problems.push(`"<" not starting a tag: ${rest.slice(0, 20)}`);
      break;
    }
    let cursor = 1 + tagName[0].length;
    const seen = new Set<string>();
    let closed = false;
    let selfClosing = false;
    while (cursor < rest.length) {
      const space = /^\s*/.exec(rest.slice(cursor))?.[0].length ?? 0;
      cursor += space;
      if (rest.startsWith('/>', cursor)) {
        selfClosing = true;
        closed = true;
        cursor += 2;
        break;
      }
      if (rest[cursor] === '>') {
        closed = true;
        cursor += 1;
        break;
      }
      if (space === 0) {
        problems.push(`attributes of <${tagName[0]}> not separated by space`);
        break;
      }
      const attribute = /^([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(
        rest.slice(cursor),
      );
      if (!attribute) {
        problems.push(`bad attribute in <${tagName[0]}>: ${rest.slice(cursor, cursor + 20)}`);
        break;
      }
      if (seen.has(attribute[1] as string))
        problems.push(`duplicate attribute ${attribute[1]} in <${tagName[0]}>`);
      seen.add(attribute[1] as string);
      checkText(attribute[3] ?? attribute[4] ?? '', `attribute ${attribute[1]}`);
      cursor += attribute[0].length;
    }
    if (!closed) {
      problems.push(`unterminated tag <${tagName[0]}>`);
      break;
    }
    if (stack.length === 0) roots++;
    if (!selfClosing) stack.push(tagName[0]);
    rest = rest.slice(cursor);
  }
  if (problems.length === 0 && stack.length > 0) problems.push(`unclosed elements: ${stack.join(', ')}`);
  if (problems.length === 0 && roots !== 1) problems.push(`expected one root element, found ${roots}`);
  return problems;
}

/** Rows of an RFC 4180 CSV text (quoted fields may hold commas, quotes and line breaks). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else {
      field += c;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
