import type { WorkSignals } from '../delivery/dispatcher.js';
import type { Backfill, BackfillChunk } from '../domain/types.js';
import type { MessageInput, Store } from '../store/store.js';

/** Completing an upload: its chunks, notifications and status in one commit, then the dispatchers told. */
export class Backfills {
  constructor(
    private readonly store: Store,
    private readonly signals: WorkSignals,
    /** How long the notifications, and through them the backfill's records, are kept (ms). */
    private readonly retentionMs: number,
  ) {}

  async complete(appId: string, backfillId: string, chunks: Omit<BackfillChunk, 'msgId'>[], notices: MessageInput[]): Promise<Backfill> {
    const kept = notices.map((n) => ({ ...n, retentionMs: n.retentionMs ?? this.retentionMs }));
    const stored = await this.store.completeBackfill(appId, backfillId, chunks, kept);
    this.signals.notify();
    return stored;
  }
}
