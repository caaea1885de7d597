import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ptzCommand } from '../src/ptz.ts';
import { TestDevice, bodyText, xmlField } from './helpers/test-device.ts';
import { DEVICE_ID, startServer } from './helpers/server.ts';

test('ptzCommand encodes moves, stop and presets with the GB checksum', () => {
  assert.equal(ptzCommand({ pan: 'right', speed: 0x80 }), 'A50F0101808000B6', 'the example of gb28181.md');
  assert.equal(ptzCommand({}), 'A50F0100000000B5', 'stop');
  assert.equal(ptzCommand({ tilt: 'up', pan: 'left', speed: 0x40 }), 'A50F010A404000' + '3F');
  assert.equal(ptzCommand({ zoom: 'out', zoomSpeed: 15 }), 'A50F01200000F0' + 'C5');
  assert.equal(ptzCommand({ preset: 'call', index: 3 }), 'A50F0182000300' + '3A');
  assert.equal(ptzCommand({ pan: 'right', address: 0x1ff }).slice(4, 6), 'FF');
  assert.throws(() => ptzCommand({ speed: 300, pan: 'left' }), TypeError);
  assert.throws(() => ptzCommand({ preset: 'call', index: 256 }), TypeError);
});

test('server.ptz() sends a DeviceControl with the PTZCmd to the channel', async () => {
  const server = await startServer();
  const dev = await TestDevice.open({ deviceId: DEVICE_ID, serverPort: server.port });
  try {
    await dev.register();
    await server.ptz(DEVICE_ID, '34020000001320000101', { pan: 'left', speed: 0x20 });
    const xml = bodyText(await dev.nextRequest('MESSAGE'));
    assert.equal(xmlField(xml, 'CmdType'), 'DeviceControl');
    assert.equal(xmlField(xml, 'DeviceID'), '34020000001320000101');
    assert.equal(xmlField(xml, 'PTZCmd'), ptzCommand({ pan: 'left', speed: 0x20 }));
    assert.match(xml, /^<\?xml[^>]*\?>\r\n<Control>/);
  } finally {
    await dev.close();
    await server.close();
  }
});
