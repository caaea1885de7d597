// rtp-receiver.test.ts again, with RTP over UDP read through node:dgram (the fallback path).
process.env.GB_TEST_UDP_RECEIVE = 'dgram';
await import('./rtp-receiver.test.ts');
