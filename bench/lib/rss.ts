// Peak resident memory during one figure. This process's resident set is sampled on an
// interval (its own VmHWM cannot be reset between figures); for each child process alive
// meanwhile, its VmHWM (its own peak since it started) is read on the same ticks, so a child
// started for the figure reports its peak over its whole life. Linux only for the children;
// elsewhere they are left out.
import { readFileSync } from 'node:fs';
import { liveChildren } from './procs.ts';

const MB = 1024 * 1024;

/** VmHWM of a process in bytes, or null when it cannot be read (gone, not Linux). */
export function peakRssOf(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]) * 1024;
  } catch {
    return null;
  }
}

export interface PeakRss {
  /** This process, MB. */
  peakRssMb: number;
  /** Each child process seen meanwhile, by its label (the largest of those sharing one), MB. */
  childPeakRssMb: Record<string, number>;
}

export class RssSampler {
  private self = process.memoryUsage.rss();
  private readonly children = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 50) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    this.self = Math.max(this.self, process.memoryUsage.rss());
    for (const { label, pid } of liveChildren()) {
      const peak = peakRssOf(pid);
      if (peak !== null) this.children.set(label, Math.max(this.children.get(label) ?? 0, peak));
    }
  }

  stop(): PeakRss {
    this.sample();
    clearInterval(this.timer);
    const mb = (n: number) => Math.round((n / MB) * 10) / 10;
    return { peakRssMb: mb(this.self), childPeakRssMb: Object.fromEntries([...this.children].map(([k, v]) => [k, mb(v)])) };
  }
}
