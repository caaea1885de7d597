// PTZCmd of GB/T 28181 (A.3): 8 bytes as 16 hex chars — A5, 0F, address low, command, data1,
// data2, zoom speed << 4 | address high, checksum (sum of bytes 1–7 mod 256).

export interface PtzMove {
  pan?: 'left' | 'right';
  tilt?: 'up' | 'down';
  zoom?: 'in' | 'out';
  /** Pan and tilt speed, 0–255. Default 0x80. */
  speed?: number;
  /** Zoom speed, 0–15. Default 8. */
  zoomSpeed?: number;
  /** Device address, 0–4095. Default 1. */
  address?: number;
}

export interface PtzPreset {
  preset: 'set' | 'call' | 'delete';
  /** Preset number, 1–255. */
  index: number;
  address?: number;
}

function byte(v: number, name: string, max = 255): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new TypeError(`${name} must be an integer 0..${max}`);
  return v;
}

/** `{}` (nothing moving) is the stop command. */
export function ptzCommand(c: PtzMove | PtzPreset): string {
  const address = byte(c.address ?? 1, 'address', 0xfff);
  let command: number;
  let data1: number;
  let data2: number;
  let zoomSpeed = 0;
  if ('preset' in c) {
    command = c.preset === 'set' ? 0x81 : c.preset === 'call' ? 0x82 : c.preset === 'delete' ? 0x83 : -1;
    if (command < 0) throw new TypeError(`bad preset action ${String(c.preset)}`);
    data1 = 0;
    data2 = byte(c.index, 'preset index');
  } else {
    command = 0;
    if (c.pan === 'right') command |= 0x01;
    else if (c.pan === 'left') command |= 0x02;
    if (c.tilt === 'down') command |= 0x04;
    else if (c.tilt === 'up') command |= 0x08;
    if (c.zoom === 'in') command |= 0x10;
    else if (c.zoom === 'out') command |= 0x20;
    // Like the spec's example (A50F0101808000B6) and wvp: both speed bytes carry the speed.
    const speed = c.pan || c.tilt ? byte(c.speed ?? 0x80, 'speed') : 0;
    data1 = speed;
    data2 = speed;
    zoomSpeed = c.zoom ? byte(c.zoomSpeed ?? 8, 'zoomSpeed', 15) : 0;
  }
  const bytes = [0xa5, 0x0f, address & 0xff, command, data1, data2, (zoomSpeed << 4) | (address >> 8)];
  bytes.push(bytes.reduce((a, b) => a + b, 0) & 0xff);
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
}
