import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** A CSS custom property holding the colour, read when the chart is drawn. */
  colorVar: string;
  bars?: boolean;
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v === '' ? fallback : v;
}

/**
 * A uPlot chart with a caption and, for screen readers and tests, the same numbers as a table.
 * `times` are seconds since the epoch.
 */
export function Chart({ title, times, series, yLabel, testid }: { title: string; times: number[]; series: ChartSeries[]; yLabel: string; testid: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const axis = cssVar('--fg-muted', '#555');
    const grid = cssVar('--border', '#ddd');
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth),
      height: 220,
      // Names and colours only: values under the cursor read "--" when it is elsewhere, and
      // the numbers are in the table below.
      legend: { show: true, live: false },
      scales: { x: { time: true } },
      axes: [
        { stroke: axis, grid: { stroke: grid } },
        { stroke: axis, grid: { stroke: grid }, label: yLabel },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: cssVar(s.colorVar, '#36c'),
          width: 2,
          fill: s.bars ? cssVar(s.colorVar, '#36c') + '55' : undefined,
          paths: s.bars ? uPlot.paths.bars!({ size: [0.6, 40] }) : undefined,
          spanGaps: false,
          points: { show: !s.bars },
        })),
      ],
    };
    const plot = new uPlot(opts, [times, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [times, series, yLabel]);
  return (
    <figure class="chart" data-testid={testid}>
      <figcaption>{title}</figcaption>
      <div ref={box} aria-hidden="true" />
      <details>
        <summary>{title}: the numbers</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Time</th>
              {series.map((s) => (
                <th scope="col" key={s.label}>
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {times.map((t, i) => (
              <tr key={t}>
                <td>{new Date(t * 1000).toLocaleString()}</td>
                {series.map((s) => (
                  <td key={s.label}>{s.values[i] ?? '—'}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
