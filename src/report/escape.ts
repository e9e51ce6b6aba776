// Escaping for the markup pathwarden writes (HTML reports, inline SVG charts, JUnit XML). One
// implementation so that every writer gets the same answer for hostile text in log fields.

/** Characters that XML 1.0 forbids even as references (C0 controls except TAB, LF, CR; U+FFFE/F). */
const invalidXmlChars =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const entities: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Text safe inside an element or a quoted attribute of HTML, SVG or XML. Log fields can hold
 * anything (a URL with `<script>`, a NUL byte), so characters XML cannot carry become U+FFFD.
 */
export function escapeMarkup(text: string | number | null | undefined): string {
  if (text === null || text === undefined) return '';
  const value = String(text);
  return value.replace(invalidXmlChars, '\ufffd').replace(/[&<>"']/g, (c) => entities[c] as string);
}

/** JSON for a `<script type="application/json">` block: `</script>` and `<!--` cannot end it early. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
