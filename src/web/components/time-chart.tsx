// A uPlot line chart that follows its container's width. uPlot draws on a canvas, which screen
// readers cannot read, so the caller puts the same numbers in a table beside it.
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartSeries {
  label: string;
  color: string;
  values: (number | null)[];
}

interface Props {
  /** Bucket start times, epoch seconds (uPlot's time unit). */
  times: number[];
  series: ChartSeries[];
  formatValue: (value: number) => string;
  height?: number;
  /** Called after every draw that had data (the overview marks its first render with it). */
  onDraw?: () => void;
}

export function TimeChart({ times, series, formatValue, height = 220, onDraw }: Props) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const drawRef = useRef(onDraw);
  drawRef.current = onDraw;
  // A new set of series (a path appears) needs a new chart; new values only need setData.
  const shape = series.map((s) => `${s.label}:${s.color}`).join('|');

  // Rebuilt only when the set of series (shape) changes; new values go through setData below.
  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      series: [
        { label: 'Time' },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          fill: `${s.color}22`,
          width: 2,
          value: (_u: uPlot, v: number | null) => (v === null ? '–' : formatValue(v)),
        })),
      ],
      axes: [{}, { values: (_u, ticks) => ticks.map(formatValue), size: 70 }],
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      cursor: { drag: { x: false, y: false } },
      hooks: {
        draw: [
          (u) => {
            if (u.data[0].length > 0) drawRef.current?.();
          },
        ],
      },
    };
    const chart = new uPlot(options, [times, ...series.map((s) => s.values)], element);
    plot.current = chart;
    const observer = new ResizeObserver(() => {
      const width = Math.max(200, element.clientWidth);
      if (Math.abs(width - chart.width) > 1) chart.setSize({ width, height });
    });
    observer.observe(element);
    return () => {
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [shape, height]);

  // The data arrays are the dependency.
  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)]);
  }, [times, series]);

  return <div class="chart" ref={holder} />;
}
