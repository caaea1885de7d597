// autocannon setupRequest for bench/api.ts's walk scenario (a file, since autocannon runs in a
// worker): each connection pages on through the list from its own start, one page per request, as
// an export script or a scrolling console does. BENCH_WALK_PATH is the first page's path.
let clients = 0;
module.exports = (req, context) => {
  const limit = Number(process.env.BENCH_WALK_LIMIT);
  const total = Number(process.env.BENCH_WALK_TOTAL);
  context.skip = context.skip === undefined ? (clients++ * 9000) % total : (context.skip + limit) % total;
  req.path = `${process.env.BENCH_WALK_PATH}&skip=${context.skip}`;
  return req;
};
