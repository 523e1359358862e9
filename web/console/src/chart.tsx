import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface SeriesSpec { label: string; stroke: string; fill?: string; dash?: number[] }

/**
 * One uPlot chart; `data` is [x (seconds), ...series]. The chart is created once and fed with
 * setData on each update (uPlot redraws in place: cheap at one update per second).
 */
export function Chart(props: { title: string; series: SeriesSpec[]; data: uPlot.AlignedData; yLabel: string; height?: number; stepped?: boolean; yRange?: [number, number] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(200, el.clientWidth);
    const opts: uPlot.Options = {
      width: width(), height: props.height ?? 200,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, ...(props.yRange ? { y: { range: props.yRange } } : {}) },
      axes: [{ stroke: '#333' }, { label: props.yLabel, stroke: '#333', size: 50 }],
      series: [{}, ...props.series.map((s) => ({
        label: s.label, stroke: s.stroke, width: 2, ...(s.fill ? { fill: s.fill } : {}), ...(s.dash ? { dash: s.dash } : {}),
        ...(props.stepped ? { paths: uPlot.paths.stepped?.({ align: 1 }) } : {}),
      }))],
    };
    plot.current = new uPlot(opts, props.data, el);
    // Follows the box's width (window resize, phone rotation, grid reflow); the canvas itself is
    // absolutely sized, so the box is measured without it (overflow hidden in the stylesheet).
    const ro = new ResizeObserver(() => {
      const w = width();
      if (plot.current && Math.abs(plot.current.width - w) > 1) plot.current.setSize({ width: w, height: props.height ?? 200 });
    });
    ro.observe(el);
    return () => { ro.disconnect(); plot.current?.destroy(); plot.current = null; };
  }, []);
  useEffect(() => { plot.current?.setData(props.data); }, [props.data]);
  return (
    <figure class="chart" aria-label={props.title}>
      <figcaption>{props.title}</figcaption>
      <div ref={box} data-chart={props.title} />
    </figure>
  );
}
