// play/ is written against structural slices of sip-core and media (play-dependencies.ts). This file
// fails to type-check when the real SipServer / MediaEngine drift from them, and checks at run
// time that the methods play/ calls exist on the real classes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaEngine, MediaStream } from '@gb28181/media';
import { Dialog, SipServer } from '@gb28181/sip-core';
import type { PlayDialog, PlayMedia, PlayMediaStream, PlaySignaling } from '../src/play/play-dependencies.ts';

type Assignable<T, U extends T> = U;
export type Contracts = [
  Assignable<PlaySignaling, SipServer>,
  Assignable<PlayMedia, MediaEngine>,
  Assignable<PlayMediaStream, MediaStream>,
  Assignable<PlayDialog, Dialog>,
];

test('the real SipServer, Dialog, MediaEngine and MediaStream have every method play/ calls', () => {
  for (const m of ['device', 'invite', 'restoreDialog', 'queryRecordInfo', 'on']) assert.equal(typeof (SipServer.prototype as never)[m], 'function', m);
  for (const m of ['bye', 'on']) assert.equal(typeof (Dialog.prototype as never)[m], 'function', m);
  for (const m of ['openStream', 'stream']) assert.equal(typeof (MediaEngine.prototype as never)[m], 'function', m);
  for (const m of ['connect', 'stats', 'close', 'on']) assert.equal(typeof (MediaStream.prototype as never)[m], 'function', m);
});
