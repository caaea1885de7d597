// Runs when `node-gyp rebuild` failed during install (no compiler, not Linux): install goes on and
// the media engine receives RTP through node:dgram instead (it logs which path it uses).
console.warn('@gb28181/udp-batch: native build failed; RTP receive falls back to node:dgram (slower, same behaviour)');
