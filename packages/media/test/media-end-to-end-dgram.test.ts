// media-end-to-end.test.ts again, with RTP over UDP read through node:dgram (the fallback path)
// and the ingest in a worker thread, so the fallback is also checked where production runs it.
process.env.GB_TEST_UDP_RECEIVE = 'dgram';
process.env.GB_TEST_INGEST_WORKERS = '1';
await import('./media-end-to-end.test.ts');
