// Which endpoints a message goes to: the filter rule alone, without a server.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endpointMatches } from '../src/domain/routing.js';

const msg = (eventType: string, channels: string[] | null = null) => ({ eventType, channels });
const ep = (eventTypes: string[] | null, channels: string[] | null = null) => ({ eventTypes, channels });

describe('endpointMatches', () => {
  it('lets everything through to an endpoint with no filters', () => {
    assert.equal(endpointMatches(ep(null), msg('user.created')), true);
    assert.equal(endpointMatches(ep(null), msg('user.created', ['eu'])), true);
  });

  it('lets through only the event types an endpoint lists', () => {
    assert.equal(endpointMatches(ep(['user.created', 'user.deleted']), msg('user.deleted')), true);
    assert.equal(endpointMatches(ep(['user.created']), msg('user.deleted')), false);
    // An empty list is a filter that nothing passes, not the absence of one.
    assert.equal(endpointMatches(ep([]), msg('user.created')), false);
  });

  it('lets through only messages sharing a channel with the endpoint', () => {
    assert.equal(endpointMatches(ep(null, ['eu', 'us']), msg('a', ['us'])), true);
    assert.equal(endpointMatches(ep(null, ['eu']), msg('a', ['jp', 'eu'])), true);
    assert.equal(endpointMatches(ep(null, ['eu']), msg('a', ['us'])), false);
    assert.equal(endpointMatches(ep(null, ['eu']), msg('a', [])), false);
    assert.equal(endpointMatches(ep(null, []), msg('a', ['eu'])), false);
    // A message without channels reaches no endpoint that filters by channel.
    assert.equal(endpointMatches(ep(null, ['eu']), msg('a', null)), false);
  });

  it('needs both filters to pass when an endpoint has both', () => {
    assert.equal(endpointMatches(ep(['a'], ['eu']), msg('a', ['eu'])), true);
    assert.equal(endpointMatches(ep(['a'], ['eu']), msg('b', ['eu'])), false);
    assert.equal(endpointMatches(ep(['a'], ['eu']), msg('a', ['us'])), false);
    assert.equal(endpointMatches(ep(['a'], ['eu']), msg('a', null)), false);
  });
});
