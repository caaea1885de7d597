// media-end-to-end.test.ts again, with the ingest (sockets, RTP, reorder, PS demux) in 2 worker threads.
process.env.GB_TEST_INGEST_WORKERS = '2';
await import('./media-end-to-end.test.ts');
