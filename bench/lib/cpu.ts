// CPU accounting from /proc (Linux), to tell a CPU-bound run from one waiting on something
// else. Elsewhere every reading is null.
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc times; 100 on every common Linux build. */
const TICKS = 100;

/** Busy and total jiffies over all cores, from the first line of /proc/stat. */
export function machineCpu(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = f[3]! + f[4]!;
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/** Share of all cores busy between two readings (0 … 1). */
export function busyShare(a: ReturnType<typeof machineCpu>, b: ReturnType<typeof machineCpu>): number | null {
  if (a === null || b === null || b.total <= a.total) return null;
  return (b.busy - a.busy) / (b.total - a.total);
}

/** User + system CPU seconds a process has used so far. */
export function processCpuSec(pid: number | undefined): number | null {
  const t = processCpuTimes(pid);
  return t === null ? null : t.user + t.system;
}

/** User and system CPU seconds a process (all its threads) has used so far. */
export function processCpuTimes(pid: number | undefined): { user: number; system: number } | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]) / TICKS, system: Number(f[12]) / TICKS };
  } catch {
    return null;
  }
}
