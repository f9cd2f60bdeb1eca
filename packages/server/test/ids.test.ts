import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { idFloor, isId, newId } from '../src/domain/ids.js';

describe('ids', () => {
  it('encodes the same 20 bytes as the same 27 digits as ever', () => {
    // Stored ids and time filters compare as strings: the encoding must never change.
    assert.equal(idFloor('msg', 0), 'msg_000000000000000000000000000');
    assert.equal(idFloor('msg', 1), 'msg_00000000SKiCQOM5vAG3pNoyji4');
    assert.equal(idFloor('msg', 1_700_000_000_000), 'msg_0Dg1SKtnr9jZNamDlJnAo3DzFyq');
    assert.equal(idFloor('msg', 2 ** 48 - 1), 'msg_aWgEPTl1RRwPFU4tKEoY8YrzOIS');
  });

  it('makes strictly increasing ids, in time order', () => {
    const ids = Array.from({ length: 5_000 }, () => newId('msg'));
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
    for (const id of ids) assert.ok(isId('msg', id), id);
    const now = Date.now();
    assert.ok(idFloor('msg', now - 60_000) < newId('msg') && newId('msg') < idFloor('msg', now + 60_000));
  });
});
