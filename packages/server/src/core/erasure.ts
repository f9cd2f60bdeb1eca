import type { Logger } from 'pino';
import { identifierPaths } from '../catalog.js';
import type { WorkSignals } from '../delivery/dispatcher.js';
import { payloadNames, type Identifiers } from '../domain/erasure.js';
import { newestSchema } from '../domain/payloads.js';
import { addDeleted, NOTHING_DELETED, type ContentDeleted } from '../store/retention.js';
import type { Store } from '../store/store.js';
import type { BackgroundTask } from '../domain/types.js';
import type { Tasks } from './tasks.js';

/** Messages read, and content deleted, per commit: no write holds the database for long. */
export const ERASE_BATCH = 500;

/** Message ids an erasure answers with, at most. */
export const ERASED_IDS_SHOWN = 1000;

/** Whose data to erase: identifiers found in payloads, or the dataId messages carry. */
export interface ErasureSubject {
  identifiers?: Identifiers;
  dataId?: string;
}

export interface Erased extends ContentDeleted {
  /** The ids of the messages whose content was deleted, the first ERASED_IDS_SHOWN. */
  msgIds: string[];
  /** More messages were erased than msgIds holds. */
  more: boolean;
  /** The backfills (of user_id) whose records were deleted. */
  backfills: string[];
}

/**
 * Erasing one person's data from an application: every payload about them, their messages'
 * attempt response bodies, and the records of their backfills. Another application's
 * data is never read.
 *
 * Payloads are found by reading the application's stored payloads through the store, a
 * batch at a time, and matching them here (domain/erasure.ts). An index of identifiers
 * made at ingest would find them faster, but it would cost every message a parse of its
 * payload on the ingest path, which keeps payloads as text and is measured closely, for
 * a request that comes rarely; and reading through the store keeps working once the
 * store seals payloads at rest, where SQL over the payload column could not.
 */
export class Erasure {
  constructor(
    private readonly store: Store,
    private readonly signals: WorkSignals,
    private readonly log: Logger,
    private readonly tasks: Tasks,
  ) {}

  /**
   * Deletes the content of these messages (ids, or eventIds) of the application, as one
   * expunge each; what became of each ref: expunged, or not-found when the application has
   * no such message. A message whose content was already deleted counts as expunged.
   */
  async expungeMany(appId: string, refs: string[]): Promise<Record<string, 'expunged' | 'not-found'>> {
    const results: Record<string, 'expunged' | 'not-found'> = {};
    const found: string[] = [];
    for (const ref of refs) {
      const m = await this.store.getMessage(appId, ref);
      results[ref] = m === null ? 'not-found' : 'expunged';
      if (m !== null) found.push(m.id);
    }
    let deleted = NOTHING_DELETED;
    for (let i = 0; i < found.length; i += ERASE_BATCH) deleted = addDeleted(deleted, await this.deleteContent(appId, found.slice(i, i + ERASE_BATCH)));
    if (deleted.deliveries > 0) this.signals.notify();
    this.log.info({ appId, ...deleted }, 'expunged the content of messages');
    return results;
  }

  /**
   * Deletes the content of every message of the application, ERASE_BATCH messages a commit,
   * as a background task whose data counts messagesPurged as it goes.
   */
  purgeAllTask(appId: string): Promise<BackgroundTask> {
    return this.tasks.start(appId, 'application.purge_content', async (progress) => {
      let purged = 0;
      let canceled = 0;
      for (let after = ''; ; ) {
        const batch = await this.store.scanPayloads(appId, after, ERASE_BATCH);
        if (batch.length === 0) break;
        const deleted = await this.deleteContent(appId, batch.map((m) => m.id));
        purged += deleted.messages;
        canceled += deleted.deliveries;
        after = batch[batch.length - 1]!.id;
        if (batch.length < ERASE_BATCH) break;
        await progress({ messagesPurged: purged });
      }
      if (canceled > 0) this.signals.notify();
      this.log.info({ appId, messages: purged }, "purged the application's message content");
      return { messagesPurged: purged };
    });
  }

  async erase(appId: string, subject: ErasureSubject): Promise<Erased> {
    let deleted = NOTHING_DELETED;
    // A message may be found twice (by dataId and by an identifier): it is named once.
    const erased = new Set<string>();
    const remove = async (msgIds: string[]) => {
      for (let i = 0; i < msgIds.length; i += ERASE_BATCH) {
        const batch = msgIds.slice(i, i + ERASE_BATCH);
        deleted = addDeleted(deleted, await this.deleteContent(appId, batch));
        for (const id of batch) erased.add(id);
      }
    };
    if (subject.dataId !== undefined) await remove(await this.store.messagesWithDataId(appId, subject.dataId));
    let backfills: string[] = [];
    const identifiers = subject.identifiers ?? {};
    if (Object.keys(identifiers).length > 0) {
      await this.scan(appId, identifiers, remove);
      const userId = identifiers.user_id;
      if (userId !== undefined) {
        const b = await this.store.deleteUserBackfillRecords(appId, userId);
        backfills = b.backfills;
        deleted = addDeleted(deleted, { ...NOTHING_DELETED, backfillRecords: b.records });
        await remove(b.messages);
      }
    }
    // Canceled deliveries may have been the heads of ordering keys.
    if (deleted.deliveries > 0) this.signals.notify();
    this.log.info({ appId, ...deleted, backfills: backfills.length }, 'erased data on request');
    return { ...deleted, msgIds: [...erased].slice(0, ERASED_IDS_SHOWN), more: erased.size > ERASED_IDS_SHOWN, backfills };
  }

  /**
   * Deletes the messages' content, and cancels their unfinished deliveries, in one commit.
   * A delivery this process leased and has not started is then dropped, not sent. One
   * already on the wire cannot be called back; its attempt, once recorded, finds its lease
   * gone with the cancel and keeps no response body (the store's recordAttempts), and an
   * attempt recorded just before the cancel has its body cleared by it (the store locks
   * the deliveries before clearing the bodies), so nothing of the content is kept after
   * the erasure answered, whichever comes first.
   */
  private async deleteContent(appId: string, msgIds: string[]): Promise<ContentDeleted> {
    const deleted = await this.store.deleteContent(appId, msgIds);
    if (deleted.deliveries > 0) this.signals.forget(msgIds);
    return deleted;
  }

  /** Reads the application's payloads in id order and hands each batch's matches to `remove`. */
  private async scan(appId: string, identifiers: Identifiers, remove: (ids: string[]) => Promise<void>): Promise<void> {
    const paths = new Map<string, string[][]>();
    const pathsOf = async (eventType: string): Promise<string[][]> => {
      let p = paths.get(eventType);
      if (p === undefined) {
        const type = await this.store.getEventType(eventType);
        const schema = type === null ? null : newestSchema(type.schemas);
        p = schema === null ? [] : identifierPaths(schema);
        paths.set(eventType, p);
      }
      return p;
    };
    for (let after = ''; ; ) {
      const batch = await this.store.scanPayloads(appId, after, ERASE_BATCH);
      const matched: string[] = [];
      for (const m of batch) {
        let payload: unknown;
        try {
          payload = JSON.parse(m.payload);
        } catch {
          continue;
        }
        if (payloadNames(payload, identifiers, await pathsOf(m.eventType))) matched.push(m.id);
      }
      await remove(matched);
      if (batch.length < ERASE_BATCH) return;
      after = batch[batch.length - 1]!.id;
    }
  }
}
