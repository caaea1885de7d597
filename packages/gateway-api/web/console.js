// Operator console: lists devices and channels from the REST API and plays a channel's live FLV
// with mpegts.js (native HLS where Media Source Extensions are missing, i.e. iOS Safari).
// Everything shown comes from devices on the network: text goes in with textContent only.

const tokenKey = 'gb28181.console.token';
const pollMs = 2000;
const $ = (id) => document.getElementById(id);
const video = /** @type {HTMLVideoElement} */ ($('video'));

/** The stream on screen: { streamid, channelid, via?, player?, poll? } */
let current;
/** Counts Play clicks: a slow answer to an older click must not replace a newer one. */
let playSeq = 0;

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== undefined && c !== null));
  return node;
}

function say(text) {
  $('message').textContent = text;
}

async function api(method, path, body) {
  const token = localStorage.getItem(tokenKey) ?? '';
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const json = await res.json().catch(() => undefined);
  if (res.status === 401) throw new Error('the API token was rejected: enter a valid token above');
  if (!res.ok || json?.code !== '0') {
    throw new Error(typeof json?.data === 'string' ? json.data : `${method} ${path} answered HTTP ${res.status}`);
  }
  return json.data;
}

// ---- devices and channels -------------------------------------------------------------------

async function loadDevices() {
  say('');
  const box = $('devices');
  let devices;
  try {
    devices = (await api('GET', '/devices?limit=200')).list;
  } catch (err) {
    box.replaceChildren();
    say(err.message);
    return;
  }
  if (devices.length === 0) {
    box.replaceChildren(el('p', { className: 'empty', textContent: 'No devices yet: create one with POST /devices.' }));
    return;
  }
  const sections = await Promise.all(devices.map(renderDevice));
  box.replaceChildren(...sections);
}

async function renderDevice(device) {
  const badge = el('span', { className: device.online ? 'badge on' : 'badge', textContent: device.online ? 'online' : 'offline' });
  const title = el('h2', {}, el('span', { textContent: device.name || '(unnamed)' }), el('span', { className: 'id', textContent: device.deviceid }), badge);
  const list = el('ul', { className: 'channels' });
  const section = el('div', { className: 'device' }, title, list);
  section.dataset.device = device.deviceid;
  try {
    const channels = (await api('GET', `/devices/${encodeURIComponent(device.deviceid)}/channels?limit=500`)).list;
    if (channels.length === 0) list.append(el('li', { className: 'empty', textContent: 'no channels (catalog not received yet)' }));
    for (const ch of channels) list.append(renderChannel(ch));
  } catch (err) {
    list.append(el('li', { className: 'empty', textContent: `channels: ${err.message}` }));
  }
  return section;
}

function renderChannel(ch) {
  const play = el('button', { type: 'button', textContent: 'Play' });
  play.dataset.play = ch.channelid;
  play.addEventListener('click', () => void playChannel(ch));
  return el(
    'li',
    {},
    el('span', { className: 'name', textContent: ch.name || ch.channelid }),
    el('span', { className: 'id', textContent: ch.channelid }),
    el('span', { className: ch.status === 'ON' ? 'badge on' : 'badge', textContent: ch.status || '?' }),
    play,
  );
}

// ---- playing ----------------------------------------------------------------------------------

function showStream(s, state) {
  $('stream-channel').textContent = s?.channelid ?? '-';
  $('stream-id').textContent = s?.streamid ?? '-';
  $('stream-state').textContent = state;
}

function showError(text) {
  $('stream-error').textContent = text;
}

/** Detaches the player and stops polling; the stream itself keeps running (others may watch). */
function detach() {
  if (!current) return;
  clearInterval(current.poll);
  if (current.player) {
    current.player.pause();
    current.player.unload();
    current.player.detachMediaElement();
    current.player.destroy();
  } else {
    video.removeAttribute('src');
    video.load();
  }
  current = undefined;
  $('stop').disabled = true;
}

async function playChannel(ch) {
  const seq = ++playSeq;
  detach();
  showError('');
  showStream({ channelid: ch.channelid }, 'inviting the device…');
  let stream;
  try {
    stream = await api('POST', `/channels/${encodeURIComponent(ch.channelid)}/streams`, { replay: 0 });
  } catch (err) {
    if (seq !== playSeq) return;
    showStream({ channelid: ch.channelid }, 'failed');
    showError(`play failed: ${err.message}`);
    return;
  }
  if (seq !== playSeq) return;
  current = { streamid: stream.streamid, channelid: ch.channelid };
  $('stop').disabled = false;
  const via = attachPlayer(stream);
  if (!via) return;
  current.via = via;
  showStream(stream, `${stream.status} (${via})`);
  current.poll = setInterval(() => void pollStream(), pollMs);
}

/** Starts playback of the stream's FLV (or HLS) URL; returns how, or undefined when it cannot. */
function attachPlayer(stream) {
  const mpegts = window.mpegts;
  // node-media-server's FLV header always announces audio: say what the stream really carries,
  // or the player waits for audio that never comes. mpegts.js plays AAC from FLV but not G.711,
  // and an unsupported audio codec would stop the video too, so G.711 is left out.
  const audio = stream.live?.diagnosis?.audio ?? stream.diagnosis?.audio;
  const hasAudio = audio?.codec === 'aac';
  const codec = (stream.live?.diagnosis?.video ?? stream.diagnosis?.video)?.codec ?? 'h264';
  // Many browsers decode H.265 only natively (Safari's HLS), not through Media Source Extensions.
  const mseCodecOk = codec !== 'h265' || window.MediaSource?.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"');
  if (mseCodecOk && mpegts?.isSupported() && mpegts.getFeatureList().mseLivePlayback) {
    const player = mpegts.createPlayer(
      { type: 'flv', isLive: true, url: stream.flv, hasAudio, hasVideo: true },
      { enableStashBuffer: false, liveBufferLatencyChasing: true, lazyLoad: false },
    );
    player.on(mpegts.Events.ERROR, (type, detail, info) => {
      showError(`player error: ${type} / ${detail}${info?.msg ? `: ${info.msg}` : ''}`);
    });
    player.attachMediaElement(video);
    player.load();
    current.player = player;
    Promise.resolve(player.play()).catch((err) => showError(`the browser refused to start playback: ${err.message}`));
    return 'HTTP-FLV';
  }
  if (video.canPlayType('application/vnd.apple.mpegurl')) {
    void playHls(current, stream.http);
    return 'HLS';
  }
  showError(`this browser can play this ${codec.toUpperCase()} stream neither as HTTP-FLV (Media Source Extensions) nor as HLS`);
  return undefined;
}

// The playlist answers 404 until the first segment is cut, and a native player gives up on a 404.
// Start only with three segments listed (RFC 8216 6.3.3): Chromium's built-in HLS player fails
// with "DEMUXER_ERROR_COULD_NOT_PARSE" on a live playlist of one or two.
async function playHls(mine, url) {
  for (let tries = 0; tries < 30 && current === mine; tries++) {
    const res = await fetch(url, { cache: 'no-store' }).catch(() => undefined);
    if (res?.ok && (await res.text()).split('#EXTINF').length > 3) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (current !== mine) return;
  video.src = url;
  video.play().catch((err) => showError(`the browser refused to start playback: ${err.message}`));
}

async function pollStream() {
  const mine = current;
  if (!mine) return;
  try {
    const s = await api('GET', `/streams/${encodeURIComponent(mine.streamid)}`);
    if (current !== mine) return;
    const frames = s.live?.frames ?? s.diagnosis?.frames;
    const shown = `${s.status} (${mine.via})${frames !== undefined ? `, ${frames} frames received` : ''}, ${video.currentTime.toFixed(1)} s played`;
    showStream(s, shown);
    if (s.status === 'closed' || s.status === 'failed') {
      showError(s.msg ? `stream ended: ${s.msg}` : 'stream ended');
      detach();
    }
  } catch (err) {
    if (current === mine) showError(err.message);
  }
}

async function stopStream() {
  const mine = current;
  if (!mine) return;
  detach();
  try {
    await api('DELETE', `/streams/${encodeURIComponent(mine.streamid)}`);
    showStream(mine, 'stopped');
  } catch (err) {
    showError(`stop failed: ${err.message}`);
  }
}

// ---- wiring ---------------------------------------------------------------------------------

video.addEventListener('error', () => {
  if (current) showError(`video element error: ${video.error?.message || video.error?.code}`);
});
$('stop').addEventListener('click', () => void stopStream());
$('refresh').addEventListener('click', () => void loadDevices());
$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  localStorage.setItem(tokenKey, $('token').value.trim());
  $('token').value = '';
  void loadDevices();
});

// Tries without a token too: the API may run with GB_API_AUTH=off; a 401 asks for the token.
void loadDevices();
