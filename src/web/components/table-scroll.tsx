// Wide tables scroll sideways on narrow screens; the scroll box is focusable so keyboard users
// can scroll it too, and it is named so screen readers announce what it holds.
import type { ComponentChildren } from 'preact';

export function TableScroll({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1).
    <section class="table-scroll" aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}
